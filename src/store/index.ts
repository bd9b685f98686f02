/**
 * The store SPI, exported as `auditrail/store`, for those who implement a store: the interface
 * every store implements, the rows it persists, and {@link openStore} for the built-in backends.
 * One interface per concern (LogStore, IndexStore, ApprovalStore, CursorStore, MetaStore);
 * `AuditStore` is all of them. A store persists bytes and derived rows and never computes a hash: everything hashed or signed
 * is computed by the SDK's core (the `plan` callback of `AuditStore.append`) and handed over as
 * bytes. Every store must pass the contract suite (`src/store/store.contract.ts`, run from a
 * source checkout; see docs/sdk.md "Implementing a store").
 *
 * @example
 * import { openAuditTrail } from 'auditrail';
 * import type { AuditStore } from 'auditrail/store';
 * class MyStore implements AuditStore { … }
 * const trail = await openAuditTrail({ tenant: 'acme', store: new MyStore() });
 */
export type {
  AppendContext,
  AppendPlan,
  ApprovalRow,
  ArchiveRow,
  ApprovalStatus,
  ApprovalStore,
  AuditStore,
  CheckpointRow,
  CursorRow,
  CursorStore,
  DisclosureRow,
  EntryRow,
  EntryText,
  EventFilter,
  ExistingEntry,
  IndexRow,
  IndexStore,
  LeafWriter,
  ListedEvent,
  LogHead,
  LogStore,
  MetaStore,
  ScanRow,
  SideWrites,
  StoredEvent,
  StoredIndexRow,
  TileInfo,
} from './store.js';
export type { PreparedLeaf, Receipt } from '../core/append-plan.js';
export type { IndexValues } from '../core/index-row.js';
export type { TileRow } from '../core/tiles.js';
export { checkCursorName, checkCursorSeq, tileKey } from './store.js';
export { openStore } from './open-store.js';
