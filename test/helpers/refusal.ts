/** Connecting when the gateway is expected to refuse: the error the client got, or a failure. */
import pg from 'pg';
import { expect } from 'vitest';

export async function connectExpectingRefusal(client: pg.Client, what: string): Promise<pg.DatabaseError> {
  let outcome: unknown;
  try {
    await client.connect();
  } catch (error) {
    outcome = error;
  }
  if (outcome === undefined) {
    await client.end();
    throw new Error(`${what} was expected to be refused, but it logged in`);
  }
  expect(outcome).toBeInstanceOf(pg.DatabaseError);
  return outcome as pg.DatabaseError;
}

/** What a client can observe of a refusal: everything the ErrorResponse carries to it. */
export function observable(error: pg.DatabaseError): Record<string, unknown> {
  return {
    code: error.code,
    severity: error.severity,
    message: error.message,
    detail: error.detail,
    hint: error.hint,
  };
}
