/**
 * Keeping passwords out of the CLI's output: a URL is shown as scheme, host, port and db only
 * (no user-info, no query, no fragment), and every write to stdout/stderr while a command runs
 * has the passwords it was given (in a URL's user-info or query, an environment variable or a
 * file) replaced by ***, whatever message they end up in.
 */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return '<unparseable url>';
  }
}

/** The secrets a Redis URL carries: its user-info and any query value (`?password=…`). */
export function secretsInUrl(url: string): string[] {
  try {
    const parsed = new URL(url);
    const decoded = (s: string) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    return [parsed.username, parsed.password, ...parsed.searchParams.values(), parsed.hash.slice(1)].flatMap((s) => (s ? [s, decoded(s)] : []));
  } catch {
    return [];
  }
}

/** Runs `run` with stdout and stderr redacting `secrets` (restored afterwards, whatever happens). */
export async function withRedactedOutput<T>(secrets: readonly (string | undefined)[], run: () => Promise<T>): Promise<T> {
  const hidden = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 3))].sort((a, b) => b.length - a.length);
  if (hidden.length === 0) return run();
  const redact = (text: string) => hidden.reduce((t, s) => t.split(s).join('***'), text);
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((s) => s.write);
  streams.forEach((stream, i) => {
    const original = originals[i]!;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
      original.call(stream, redact(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), ...(rest as []))) as typeof stream.write;
  });
  try {
    return await run();
  } finally {
    streams.forEach((stream, i) => void (stream.write = originals[i]!));
  }
}
