/** Faults the sandbox injects from outside the handlers (the runner wraps a Task). */
export class InjectedFaultError extends Error {
  override readonly name = 'InjectedFaultError';
}
