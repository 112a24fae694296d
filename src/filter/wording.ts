/*
 * libpcap 1.10.3's wording (the local tcpdump's) for the compile errors, derived from the
 * libpcap 1.11 messages the compiler raises: the two differ in text only, never in what is rejected.
 */
import { dltDescription, dltValue } from './dlt.js';

type Rule = [RegExp, string | ((...m: string[]) => string)];

const descrOf = (name: string): string => { const v = dltValue(name); return v === undefined ? name : dltDescription(v); };

const RULES: Rule[] = [
  [/^link-layer type filtering not implemented for DLT_(\w+)$/, (_, n) => `${descrOf(n)} link-layer type filtering not implemented`],
  [/^port number (\d+) greater than maximum 65535$/, 'illegal port number $1 > 65535'],
  [/^'(\w+)' supported only on PFLOG linktype$/, (_, k) => `${({ on: 'ifname', ifname: 'ifname', rnr: 'rulenum', rulenum: 'rulenum', srnr: 'subrulenum', subrulenum: 'subrulenum', rset: 'ruleset', ruleset: 'ruleset' } as Record<string, string>)[k] ?? k} supported only on PF linktype`],
];

export function wording110(msg: string): string {
  for (const [re, to] of RULES) {
    const m = re.exec(msg);
    if (m) return typeof to === 'string' ? msg.replace(re, to) : to(...m);
  }
  return msg;
}
