/** MoE training metrics per sparse layer: capacity drops, expert usage histogram, router entropy. */
import type { RouterOutput } from '../../layers/moe/router.js';
import type { RoutingStats } from '../../layers/moe/routing-plan.js';

/** Host-side MoE metrics of one sparse layer. */
export interface MoeLayerMetrics extends RoutingStats {
  side: 'encoder' | 'decoder';
  layer: number;
  droppedAssignmentFraction: number;
  droppedTokenFraction: number;
}

export function metricsOf(side: 'encoder' | 'decoder', layer: number, s: RoutingStats): MoeLayerMetrics {
  return {
    ...s,
    side,
    layer,
    droppedAssignmentFraction: s.assignments ? s.droppedAssignments / s.assignments : 0,
    droppedTokenFraction: s.routedTokens ? s.droppedTokens / s.routedTokens : 0,
  };
}

/** Host metrics of the sparse layers of one side. */
export function collectMetrics<T>(side: 'encoder' | 'decoder', routers: (RouterOutput<T> | undefined)[]): MoeLayerMetrics[] {
  const out: MoeLayerMetrics[] = [];
  routers.forEach((r, i) => {
    if (r?.plan) out.push(metricsOf(side, i, r.plan.stats));
  });
  return out;
}

