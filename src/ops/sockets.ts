/**
 * Who holds a TCP port, read from /proc alone (Linux): `/proc/net/tcp` and `/proc/net/tcp6` name
 * the listening sockets and their inodes, `/proc/PID/fd/*` (links `socket:[INODE]`) the processes
 * holding them. No lsof, no ss: neither is on every box, and both read these same files
 * (docs/decisions.md, "The port guard reads /proc").
 *
 * S1. A port is held while a socket in LISTEN (state 0A) is bound to it, on any local address,
 *     IPv4 or IPv6. Other states (an accepted connection whose local port is the same) never count.
 * S2. A holder is a process with a descriptor on a listening socket, named by the identity it had
 *     while it held it (I1 of proc.ts): its start time is read after the descriptor was found and
 *     the descriptor read again after that, so a pid reused between the two reads is not a holder.
 * S3. Never "free" on a guess: when /proc/net/tcp cannot be read, or a socket that is still
 *     listening has no holder this process can see (another user's process whose descriptors it
 *     may not read, another PID namespace), the answer is `probe_failed`.
 * S4. A socket may have several holders (a server that forked after listen, SO_REUSEPORT, a
 *     descriptor passed on): every one is named.
 * S5. Nothing here signals, writes or throws for a process that is gone: this is the probe
 *     `port-guard` acts on and `status` names holders with.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';
import { processCommand, processName, processUid, runningIdentity, type ProcessIdentity } from './proc.js';

export interface ListeningSocket {
  readonly family: 'ipv4' | 'ipv6';
  /** The local address it is bound to, e.g. 127.0.0.1, 0.0.0.0, ::1, :: */
  readonly address: string;
  readonly inode: string;
}

export interface SocketHolder extends ProcessIdentity {
  /** argv joined by spaces (processCommand), or `[name]` when it has none. */
  readonly cmd: string;
  /** /proc/PID/comm, or null when unreadable. */
  readonly name: string | null;
  /** Its real uid (/proc/PID/status), or null when unreadable: who it belongs to. */
  readonly uid: number | null;
  /** The listening sockets of the port it holds. */
  readonly inodes: readonly string[];
}

export type PortProbe =
  | { readonly kind: 'free' }
  | {
      readonly kind: 'held';
      readonly sockets: readonly ListeningSocket[];
      /** By pid; at least one. */
      readonly holders: readonly SocketHolder[];
    }
  | { readonly kind: 'probe_failed'; readonly why: string };

/** Who holds `port` (S1–S5). */
export function portHolders(port: number, procRoot = '/proc'): PortProbe {
  const first = listeningSockets(port, procRoot);
  if ('why' in first) return { kind: 'probe_failed', why: first.why };
  if (!first.length) return { kind: 'free' };
  const scan = scanHolders(new Set(first.map((s) => s.inode)), procRoot);
  if ('why' in scan) return { kind: 'probe_failed', why: scan.why };
  const held = new Set(scan.holders.flatMap((h) => h.inodes));
  let orphans = first.filter((s) => !held.has(s.inode));
  if (orphans.length) {
    // A listener that closed while the descriptors were read is no orphan: only those still
    // listening now are (S3).
    const again = listeningSockets(port, procRoot);
    if ('why' in again) return { kind: 'probe_failed', why: again.why };
    const still = new Set(again.map((s) => s.inode));
    orphans = orphans.filter((s) => still.has(s.inode));
  }
  if (orphans.length) {
    const o = orphans[0]!;
    return {
      kind: 'probe_failed',
      why:
        `port ${port} is listened on (${o.address}, socket inode ${o.inode}) by a process this one cannot see` +
        (scan.unreadable
          ? `: the descriptors of ${scan.unreadable} process(es) could not be read (another user's?); run as that user or as root`
          : ' (another PID namespace, or /proc mounted with hidepid?)'),
    };
  }
  const sockets = first.filter((s) => held.has(s.inode));
  return sockets.length ? { kind: 'held', sockets, holders: scan.holders } : { kind: 'free' };
}

/** The sockets listening on `port` (S1), or why they cannot be known. */
export function listeningSockets(port: number, procRoot = '/proc'): ListeningSocket[] | { why: string } {
  const out: ListeningSocket[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    const file = `${procRoot}/net/${family === 'ipv4' ? 'tcp' : 'tcp6'}`;
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      // A kernel without IPv6 has no tcp6, and then no IPv6 listener either.
      if (family === 'ipv6' && code === 'ENOENT') continue;
      return { why: `${file} cannot be read (${code}); the port guard needs Linux /proc` };
    }
    out.push(...parseTcpTable(text, family, port));
  }
  return out;
}

/** The LISTEN rows for `port` of one /proc/net/tcp{,6} table. */
export function parseTcpTable(text: string, family: 'ipv4' | 'ipv6', port: number): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  // Row: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue;
    const [addrHex = '', portHex = ''] = f[1]!.split(':');
    const inode = f[9]!;
    // Inode 0: a socket no descriptor refers to any more (being torn down); nobody to name.
    if (Number.parseInt(portHex, 16) !== port || !/^[1-9][0-9]*$/.test(inode)) continue;
    out.push({ family, address: decodeAddress(addrHex), inode });
  }
  return out;
}

/**
 * An address as /proc/net/tcp{,6} prints it: 32-bit words of the address in network order, each
 * printed as a number in the host's byte order (reversed on little-endian machines).
 */
export function decodeAddress(hex: string, littleEndian = endianness() === 'LE'): string {
  const bytes: number[] = [];
  for (let w = 0; w + 8 <= hex.length; w += 8) {
    const word = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(w + i, w + i + 2), 16));
    bytes.push(...(littleEndian ? word.reverse() : word));
  }
  if (bytes.length === 4) return bytes.join('.');
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // The URL parser writes an IPv6 address in its canonical short form (RFC 5952).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

interface Scan {
  readonly holders: SocketHolder[];
  /** Processes whose descriptors could not be read (not: that exited while we looked). */
  readonly unreadable: number;
}

/** Every process with a descriptor on one of `inodes` (S2, S4). */
function scanHolders(inodes: ReadonlySet<string>, procRoot: string): Scan | { why: string } {
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((n) => /^[1-9][0-9]*$/.test(n));
  } catch (err) {
    return { why: `${procRoot} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  const holders: SocketHolder[] = [];
  let unreadable = 0;
  for (const name of pids.sort((a, b) => Number(a) - Number(b))) {
    const pid = Number(name);
    const dir = `${procRoot}/${pid}/fd`;
    let fds: string[];
    try {
      fds = readdirSync(dir);
    } catch (err) {
      // Gone is gone; anything else (EACCES above all) leaves a holder we cannot rule out (S3).
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') unreadable++;
      continue;
    }
    const found = new Map<string, string>(); // fd → inode
    for (const fd of fds) {
      const inode = socketInode(`${dir}/${fd}`);
      if (inode !== undefined && inodes.has(inode)) found.set(fd, inode);
    }
    if (!found.size) continue;
    const id = runningIdentity(pid, procRoot);
    // Read again after the identity: the process that has this start time holds it (S2).
    const held = [...found].filter(([fd, inode]) => socketInode(`${dir}/${fd}`) === inode).map(([, i]) => i);
    if (!id || !held.length) continue;
    holders.push({
      ...id,
      cmd: processCommand(pid, procRoot) ?? `[pid ${pid}]`,
      name: processName(pid, procRoot) ?? null,
      uid: processUid(pid, procRoot) ?? null,
      inodes: [...new Set(held)],
    });
  }
  return { holders, unreadable };
}

/** The inode of the socket a descriptor link names, or undefined (not a socket, or gone). */
function socketInode(link: string): string | undefined {
  try {
    return /^socket:\[([0-9]+)\]$/.exec(readlinkSync(link))?.[1];
  } catch {
    return undefined;
  }
}
