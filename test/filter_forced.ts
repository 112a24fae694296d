/*
 * The listing differences from the local tcpdump (libpcap 1.10.3) that are forced: 1.10.3 selects
 * other packets there than the libpcap-tests apply tests (libpcap 1.11's results) demand, so our
 * code follows 1.11 (gencode.ts's header has the list; `scripts/filter-vs-tcpdump.mjs apply`
 * shows tcpdump's own programs failing those apply tests). Used by the script and the sample test
 * to name a difference's cause; any other difference is a bug.
 */
const FORCED: readonly { cause: string; test: (dlt: string, expr: string) => boolean }[] = [
  { cause: 'MTP3 field != (1.11 negates the relation)', test: (d, e) => /^(MTP2|MTP2_WITH_PHDR|ERF)$/.test(d) && /!=/.test(e) && /\b(sio|dpc|opc|sls|hsio|hdpc|hopc|hsls)\b/.test(e) },
  { cause: 'ARCnet $xx address is hex (1.11)', test: (d, e) => /^ARCNET/.test(d) && /\$[0-9a-fA-F]/.test(e) },
  { cause: 'Linux ARCnet: RFC 1201 types only (1.11)', test: (d) => d === 'ARCNET_LINUX' },
  { cause: 'SLIP outbound is direction byte 1 (1.11)', test: (d, e) => d === 'SLIP' && /\boutbound\b/.test(e) },
  { cause: 'C-HDLC IS-IS PDU type after the fudge byte (1.11)', test: (d, e) => d === 'C_HDLC' && /\b(l1|l2|iih|lsp|snp|csnp|psnp)\b/.test(e) },
];

/** The forced cause of a listing difference for this link type and expression, if any. */
export function forcedCause(dlt: string, expr: string): string | undefined {
  return FORCED.find((f) => f.test(dlt, expr))?.cause;
}

/**
 * 1.11's stricter checks kept where 1.10.3 compiled (the reject tests check the same rules on
 * other values: `iso proto 256`, `decnet host 1`, `decnet net 1.2.3.4` ...).
 */
const FORCED_REJECTIONS = /greater than maximum|^invalid DECnet address|is not a valid qualifier for/;

/** Whether our rejection with this message is one of 1.11's kept checks. */
export function forcedRejection(message: string): boolean {
  return FORCED_REJECTIONS.test(message);
}
