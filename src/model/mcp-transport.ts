/**
 * The MCP SDK's Transport over a process we started ourselves (sandbox/spawn-piped.ts): the
 * stdio framing of the protocol — one JSON-RPC message per line — on the child's stdin and
 * stdout. The SDK's own StdioClientTransport spawns its process unsandboxed, so it is not used.
 *
 * The transport never owns the process: `close()` stops talking, and the session (mcp.ts) kills
 * the tree. The process's stdout ending (it exited, or closed it) closes the transport, which
 * makes the SDK reject every pending request with ConnectionClosed.
 */
import type { Readable, Writable } from 'node:stream';
import {
  ReadBuffer,
  SdkError,
  SdkErrorCode,
  serializeMessage,
  type JSONRPCMessage,
  type Transport,
} from '@modelcontextprotocol/client';

/** A single message larger than this closes the connection (the SDK's stdio default is 10 MB). */
const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export class PipeTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;

  private readonly buffer = new ReadBuffer({ maxBufferSize: MAX_MESSAGE_BYTES });
  private started = false;
  private closed = false;

  constructor(
    private readonly stdin: Writable,
    private readonly stdout: Readable,
  ) {}

  start(): Promise<void> {
    if (this.started) throw new Error('PipeTransport already started');
    this.started = true;
    this.stdout.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      try {
        this.buffer.append(chunk);
      } catch (err) {
        // One message past MAX_MESSAGE_BYTES: the stream cannot be framed any more.
        this.onerror?.(asError(err));
        this.finish();
        return;
      }
      for (;;) {
        let message: JSONRPCMessage | null;
        try {
          message = this.buffer.readMessage();
        } catch (err) {
          // JSON that is not JSON-RPC: reported and skipped (lines that are not JSON at all, a
          // server logging to stdout, the ReadBuffer skips itself).
          this.onerror?.(asError(err));
          continue;
        }
        if (message === null || this.closed) return;
        this.onmessage?.(message);
      }
    });
    this.stdout.once('end', () => this.finish());
    this.stdout.once('close', () => this.finish());
    this.stdout.on('error', (err) => this.onerror?.(err));
    if (this.stdout.readableEnded || this.stdout.destroyed) this.finish();
    return Promise.resolve();
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed || this.stdin.destroyed || this.stdin.writableEnded) {
      return Promise.reject(new SdkError(SdkErrorCode.NotConnected, 'the MCP server is gone'));
    }
    return new Promise((resolve, reject) => {
      this.stdin.write(serializeMessage(message), (err) =>
        err
          ? reject(new SdkError(SdkErrorCode.SendFailed, `writing to the MCP server: ${err.message}`))
          : resolve(),
      );
    });
  }

  close(): Promise<void> {
    this.finish();
    return Promise.resolve();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.buffer.clear();
    this.onclose?.();
  }
}

const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));
