/** The CLI's exit statuses, one meaning each, so scripts and monitors can tell them apart. */
export const EXIT = {
  ok: 0,
  /** A crash or an unexpected error: the command could not do its job. */
  internal: 1,
  /** Bad flags or a bad input file: fix the command line. */
  usage: 2,
  /** `health`: a warning (the group works, something needs a look). */
  degraded: 3,
  /** `health`: a critical finding. */
  unhealthy: 4,
} as const;

export const EXIT_CODES_HELP = `Exit status:
  0  success (health: healthy)
  1  internal error (a crash, an AWS or network failure; health: UNKNOWN, a check could not ask AWS or Kubernetes)
  2  usage error (bad flags, a file that cannot be read; start: an input that does not validate)
  3  health: degraded (a warning)
  4  health: unhealthy (a critical finding)
  copy also exits 1 when the copy fails or does not verify; validate exits 1 when the input is
  invalid (that is its verdict; start refuses the same input with 2, starting nothing), and 2
  when the file cannot be read.
`;
