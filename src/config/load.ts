/**
 * @module config/load
 * Reads `sluice.yaml` into a {@link SluiceConfig}. Validation reports every problem at once, each
 * as `FILE:LINE:COL dotted.path: what is wrong`, so an operator fixes the file in one pass. The
 * position comes from the YAML node the zod issue path leads to (or its nearest existing parent,
 * for a missing key).
 */
import { readFile } from 'node:fs/promises';
import { type Document, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { GatewayError } from '../core/errors.ts';
import { type ConfigIssue, configSchema, crossCheck, type SluiceConfig, typeName } from './schema.ts';
import type { SecretRef } from './secret-ref.ts';

export type {
  Address,
  AdminConfig,
  ConnectionConfig,
  ConnectionTlsConfig,
  LimitsConfig,
  ListenerConfig,
  LogLevel,
  PolicyConfig,
  PostgresTarget,
  SluiceConfig,
  StoreConfig,
  TimeoutsConfig,
  TlsConfig,
  UpstreamTlsMode,
} from './schema.ts';
export type { SecretRef } from './secret-ref.ts';

type Path = (string | number)[];
/** `atKey` points at the key itself (an unknown key) rather than at its value. */
type LocatedIssue = ConfigIssue & { atKey?: boolean };

/**
 * Parses and validates config text. `source` names the file in messages.
 *
 * @throws GatewayError `GW_ERR_CONFIG`, with one line per problem.
 * @example parseConfig(await readFile('sluice.yaml', 'utf8'), 'sluice.yaml')
 */
export function parseConfig(text: string, source: string): SluiceConfig {
  return parseLocated(text, source).config;
}

/**
 * Loads a config file and checks that every `env:` secret reference is set in `env`, so a missing
 * variable stops startup instead of failing the first connection. The values are not read here:
 * secrets are resolved when used (see config/secret-ref).
 *
 * @throws GatewayError `GW_ERR_CONFIG`
 */
export async function loadConfigFile(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SluiceConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new GatewayError('GW_ERR_CONFIG', `${path}: cannot read the config file (${code})`, {
      cause: error,
    });
  }
  const { config, report } = parseLocated(text, path);
  const unset = secretRefs(config).filter(({ ref }) => ref.kind === 'env' && !env[ref.name]);
  if (unset.length > 0) {
    report(
      unset.map(({ path: at, ref }) => ({
        path: at,
        message: `environment variable ${ref.name} is not set or empty`,
      })),
    );
  }
  return config;
}

function parseLocated(text: string, source: string) {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${source}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw configError(doc.errors.map((error) => `${position(error.pos[0])} ${error.message.split('\n')[0]}`));
  }

  /** Throws one error listing `issues` in file order. */
  const report = (issues: LocatedIssue[]): never => {
    const located = issues.map((issue) => ({
      issue,
      offset: offsetOf(doc, issue.path, issue.atKey === true),
    }));
    located.sort((a, b) => a.offset - b.offset);
    throw configError(
      located.map(({ issue, offset }) => `${position(offset)} ${dotted(issue.path)}: ${issue.message}`),
    );
  };

  const raw: unknown = doc.toJS();
  const result = configSchema.safeParse(raw, { error: describeIssue });
  const issues = [
    ...(result.success ? [] : result.error.issues.flatMap((issue) => flatten(issue, []))),
    ...crossCheck(raw),
  ];
  if (!result.success || issues.length > 0) return report(issues);
  return { config: result.data, report };
}

function configError(lines: string[]): GatewayError {
  return new GatewayError('GW_ERR_CONFIG', lines.join('\n'));
}

function secretRefs(config: SluiceConfig): { path: Path; ref: SecretRef }[] {
  const refs: { path: Path; ref: SecretRef }[] = [];
  if (config.store.kind === 'postgres' && config.store.password) {
    refs.push({ path: ['storePassword'], ref: config.store.password });
  }
  config.connections.forEach((connection, i) => {
    if (connection.password) refs.push({ path: ['connections', i, 'password'], ref: connection.password });
  });
  return refs;
}

// ---- issue wording ---------------------------------------------------------------------------

const YAML_TYPE: Readonly<Record<string, string>> = { object: 'mapping', array: 'list', int: 'integer' };

/**
 * Messages in the file's own terms (mapping, list). Never quotes the input: the value under a
 * wrong key may be a secret.
 */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      if (issue.expected === 'int' && typeof issue.input === 'number') return 'expected a whole number';
      return `expected ${YAML_TYPE[issue.expected] ?? issue.expected}, got ${typeName(issue.input)}`;
    case 'invalid_value':
      if (issue.input === undefined) return 'required';
      return `expected ${issue.values.length === 1 ? '' : 'one of '}${issue.values.map(String).join('|')}`;
    case 'too_small':
      if (issue.origin === 'string') return 'must not be empty';
      if (issue.origin === 'array')
        return `needs at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      return `must be at least ${issue.minimum}`;
    case 'too_big':
      return `must be at most ${issue.maximum}`;
    case 'invalid_union': {
      const expected = issue.errors.flatMap((branch) =>
        branch.flatMap((inner) =>
          inner.code === 'invalid_type' && inner.path.length === 0 ? [inner.expected] : [],
        ),
      );
      return `expected ${expected.map((type) => YAML_TYPE[type] ?? type).join(' or ')}, got ${typeName(issue.input)}`;
    }
    default:
      return undefined;
  }
}

/**
 * One issue per problem: an unknown-keys issue becomes one per key, and a union (a value that
 * may be a string or a mapping) reports the errors of the branch whose type matched.
 */
function flatten(issue: z.core.$ZodIssue, prefix: Path): LocatedIssue[] {
  const path = [
    ...prefix,
    ...issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment))),
  ];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown key', atKey: true }));
  }
  if (issue.code === 'invalid_union') {
    const typeMatched = issue.errors.filter(
      (branch) => !branch.some((inner) => inner.code === 'invalid_type' && inner.path.length === 0),
    );
    const [only] = typeMatched;
    if (only && typeMatched.length === 1) return only.flatMap((inner) => flatten(inner, path));
  }
  return [{ path, message: issue.message }];
}

function dotted(path: Path): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      if (!/^[A-Za-z_][\w-]*$/.test(segment)) return `[${JSON.stringify(segment)}]`;
      return i === 0 ? segment : `.${segment}`;
    })
    .join('');
}

// ---- positions -------------------------------------------------------------------------------

/** Offset of the node at `path`, or of its nearest ancestor present in the file. */
function offsetOf(doc: Document, path: Path, atKey: boolean): number {
  let node: unknown = doc.contents;
  let offset = startOf(node) ?? 0;
  for (const [i, segment] of path.entries()) {
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => String(isScalar(item.key) ? item.key.value : item.key) === String(segment),
      );
      if (!pair) break;
      if (atKey && i === path.length - 1) return startOf(pair.key) ?? offset;
      next = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
    }
    const start = startOf(next);
    if (start === undefined) break;
    node = next;
    offset = start;
  }
  return offset;
}

function startOf(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined;
}
