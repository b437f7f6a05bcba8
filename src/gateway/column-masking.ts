/**
 * @module gateway/column-masking
 * Column rules as sessions see them: the configured rules that apply to a session's policies,
 * extended to the views of its connection (read from the upstream catalog, re-read after DDL),
 * with statement lineage cached by text for every session.
 *
 * Fail closed: until a connection's catalog has been read, column rules cannot say which views
 * expose sensitive columns, so statements on it are refused (the read is retried).
 */
import type { PolicyConfig, SluiceConfig } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import {
  type ColumnRules,
  compileColumnRules,
  type ViewDefinition,
  withViews,
} from '../policy/column-rules.ts';
import type { UpstreamTarget } from '../protocols/postgres/ports.ts';
import { lineage, type OutputLineage } from '../sql/postgres/index.ts';
import { loadViews } from './catalog.ts';
import type { ColumnRuleContext } from './statement-gate.ts';

const LINEAGE_CACHE_ENTRIES = 5000;
const LINEAGE_CACHE_TEXT = 65_536;
const RELOAD_DELAYS_MS = [250, 2000];
const CATALOG_REFRESH_MS = 60_000;

interface ConnectionCatalog {
  views: readonly ViewDefinition[] | undefined;
  version: number;
  loading: Promise<void> | undefined;
}

export class ColumnMasking {
  readonly #config: SluiceConfig['masking'];
  readonly #targets: ReadonlyMap<string, UpstreamTarget>;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #catalogs = new Map<string, ConnectionCatalog>();
  readonly #lineage = new Map<string, readonly OutputLineage[]>();
  /** Compiled rules per (rule subset, connection, catalog version). */
  readonly #compiled = new Map<string, ColumnRules>();

  constructor(
    config: SluiceConfig['masking'],
    targets: ReadonlyMap<string, UpstreamTarget>,
    logger: Logger,
    timeoutMs: number,
  ) {
    this.#config = config;
    this.#targets = targets;
    this.#log = logger;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Reads every connection's catalog (failures are logged and retried on use), then again every
   * minute, for views an administrator changes directly on the database. Returns the stopper.
   */
  async start(): Promise<() => void> {
    if (this.#config.columns.length === 0) return () => undefined;
    const loadAll = () => Promise.all([...this.#targets.keys()].map((name) => this.#load(name)));
    await loadAll();
    const timer = setInterval(() => void loadAll(), CATALOG_REFRESH_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * The column rules of a session, or undefined when none applies to its policies. `derived` and
   * `inference` may be set per policy; the strictest value among the session's policies applies
   * (a policy that sets nothing contributes the global setting).
   */
  contextFor(
    policies: readonly Pick<PolicyConfig, 'name' | 'masking'>[],
    connection: string,
  ): ColumnRuleContext | undefined {
    const { columns } = this.#config;
    const names = policies.map((policy) => policy.name);
    const applying = columns.filter(
      (rule) => rule.policies === undefined || rule.policies.some((p) => names.includes(p)),
    );
    const setting = <K extends 'derived' | 'inference'>(key: K) =>
      policies.map(
        (policy) =>
          (typeof policy.masking === 'object' ? policy.masking[key] : undefined) ?? this.#config[key],
      );
    const derived = setting('derived').includes('deny') ? 'deny' : 'mask';
    const inference = setting('inference').includes('deny') ? 'deny' : 'allow';
    if (applying.length === 0) return undefined;
    const subset = applying.map((rule) => columns.indexOf(rule)).join(',');
    const options = { derived, inference } as const;
    return {
      options,
      lineage: (sql) => this.#lineageOf(sql),
      rules: () => {
        const catalog = this.#catalogs.get(connection);
        if (catalog?.views === undefined) {
          void this.#load(connection);
          return undefined;
        }
        const key = `${subset}|${connection}|${catalog.version}`;
        let rules = this.#compiled.get(key);
        if (rules === undefined) {
          rules = withViews(compileColumnRules(applying), catalog.views);
          this.#compiled.set(key, rules);
        }
        return rules;
      },
      schemaChanged: () => this.#reloadSoon(connection),
    };
  }

  #lineageOf(sql: string): readonly OutputLineage[] {
    const known = this.#lineage.get(sql);
    if (known !== undefined) return known;
    const computed = lineage(sql);
    if (sql.length <= LINEAGE_CACHE_TEXT) {
      this.#lineage.set(sql, computed);
      // Bounded: past the bound the oldest entry goes (a Map keeps insertion order).
      if (this.#lineage.size > LINEAGE_CACHE_ENTRIES)
        this.#lineage.delete(this.#lineage.keys().next().value ?? '');
    }
    return computed;
  }

  /**
   * The gate sees DDL before the server runs it, so the catalog is read again a little later, and
   * once more for a statement that takes longer (a single read could race the DDL itself).
   */
  #reloadSoon(connection: string): void {
    for (const delayMs of RELOAD_DELAYS_MS) setTimeout(() => void this.#load(connection), delayMs).unref();
  }

  /** (Re)reads a connection's views; one read at a time per connection. */
  #load(connection: string): Promise<void> {
    const target = this.#targets.get(connection);
    if (target === undefined) return Promise.resolve();
    let catalog = this.#catalogs.get(connection);
    if (catalog === undefined) {
      catalog = { views: undefined, version: 0, loading: undefined };
      this.#catalogs.set(connection, catalog);
    }
    const current = catalog;
    current.loading ??= loadViews(target, this.#timeoutMs)
      .then((views) => {
        current.views = views.map((view) => ({
          name: view.name,
          columns: view.columns,
          lineage: lineage(view.definition)[0],
        }));
        current.version++;
        // Rules compiled against the previous catalog are stale now.
        this.#compiled.clear();
        this.#log.info({ connection, views: views.length }, 'catalog read for column rules');
      })
      .catch((error: unknown) => {
        this.#log.warn(
          { connection, err: (error as Error).message },
          'catalog read failed; column rules refuse statements until it succeeds',
        );
      })
      .finally(() => {
        current.loading = undefined;
      });
    return current.loading;
  }
}
