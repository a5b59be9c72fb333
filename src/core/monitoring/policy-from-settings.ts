/** The retraining policy configured by settings: `any` of the policies whose setting is on. */

import type { RetrainSettings } from "./monitoring-settings.ts";
import { type RetrainPolicy, retrainWhen } from "./retrain-policies.ts";

export function policyFromSettings(settings: RetrainSettings): RetrainPolicy {
  const policies: RetrainPolicy[] = [];
  if (settings.psiAbove !== undefined) {
    policies.push(
      retrainWhen.psiAbove(settings.psiAbove, { consecutive: settings.psiConsecutive }),
    );
  }
  if (settings.driftedShare !== undefined) {
    policies.push(retrainWhen.shareOfFeaturesDrifted(settings.driftedShare));
  }
  if (settings.aucDelta !== undefined) {
    policies.push(retrainWhen.aucBelowBaseline(settings.aucDelta));
  }
  if (settings.maxModelAgeMs !== undefined) {
    policies.push(retrainWhen.modelAge(settings.maxModelAgeMs));
  }
  if (policies.length === 0) return retrainWhen.never;
  return policies.length === 1 ? (policies[0] as RetrainPolicy) : retrainWhen.any(...policies);
}
