/** Kubernetes resource quantities, without the Kubernetes client (the `copy` command uses it too). */
/**
 * Kubernetes resource quantities in bytes: plain numbers, exponents (`129e6`), decimal
 * (`k`, `M`, `G`, `T`, `P`, `E`) and binary (`Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`) suffixes,
 * and `m` (milli). Follows k8s.io/apimachinery/pkg/api/resource/quantity.go.
 */
export function parseQuantity(text: string): number | undefined {
  const match = /^([+-]?[0-9.]+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?$/.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]);
  if (!Number.isFinite(value)) return undefined;
  if (match[2]) return Math.round(value * 10 ** Number(match[2].slice(1)));
  const factor: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  return Math.round(value * (match[3] ? factor[match[3]]! : 1));
}
