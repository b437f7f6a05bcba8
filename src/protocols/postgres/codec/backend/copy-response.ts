/**
 * @module protocols/postgres/codec/backend/copy-response
 * The body shared by CopyInResponse, CopyOutResponse and CopyBothResponse: only the tag differs.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYINRESPONSE
 */
import type { ByteReader } from '../../../../core/bytes/reader.ts';
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { invalid, readFormatCodes, writeFormatCodes } from '../layout.ts';

export interface CopyFormat {
  /** 0 textual (lines separated by newlines, columns by separator characters), 1 binary. */
  format: 0 | 1;
  /** One per column; all 0 when the overall format is textual. */
  columnFormats: number[];
}

/*
 * Byte1       The tag: 'G' CopyInResponse, 'H' CopyOutResponse, 'W' CopyBothResponse.
 * Int32       Length of message contents in bytes, including self.
 * Int8        0 indicates the overall COPY format is textual (rows separated by newlines, columns
 *             separated by separator characters, etc.). 1 indicates the overall copy format is
 *             binary (similar to DataRow format).
 * Int16       The number of columns in the data to be copied (denoted N below).
 * Int16[N]    The format codes to be used for each column. Each must presently be zero (text) or
 *             one (binary). All must be zero if the overall copy format is textual.
 */
export function encodeCopyFormat(tag: number, msg: CopyFormat): Buffer {
  const writer = new ByteWriter(3 + 2 * msg.columnFormats.length).uint8(msg.format);
  writeFormatCodes(writer, msg.columnFormats);
  return writer.finish(tag);
}

export function readCopyFormat(reader: ByteReader): CopyFormat {
  const format = reader.uint8();
  // The session switches to a COPY state on this message; an unknown format means we would be
  // relaying a stream we cannot interpret.
  if (format !== 0 && format !== 1) invalid('unknown copy format');
  return { format, columnFormats: readFormatCodes(reader) };
}
