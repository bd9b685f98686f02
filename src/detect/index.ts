/**
 * Anomaly detection over the log (docs/detection.md): the detectors, their config, the runner
 * that keeps them at the log's end, and the review of what they raise.
 */
export {
  defaultDetectConfig,
  loadDetectConfig,
  loadDetectSection,
  parseDetectConfig,
  parseDuration,
  type DetectConfig,
} from './config.js';
export {
  DetectEngine,
  DETECTORS,
  DETECT_ACTOR,
  targetPattern,
  type Anomaly,
  type DetectInput,
} from './engine.js';
export { DetectRunner, anomalyEvent, type DetectReport, type DetectRunnerOptions } from './runner.js';
export {
  acknowledgeAnomaly,
  anomalyOf,
  getAnomaly,
  listAnomalies,
  resolveAnomaly,
  ANOMALY_STATES,
  type AnomalyRecord,
  type AnomalyState,
} from './anomalies.js';
export { scenario, evaluate, seededRandom, type Incident, type DetectorScore } from './scenario.js';
