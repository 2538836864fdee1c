/**
 * ACME failures in plain language: what went wrong and what to do. The wizard shows `title`
 * and `fix`; `detail` keeps the CA's own words for people who want them.
 */

export interface Explained {
  title: string;
  fix: string;
  detail: string;
}

export class AcmeStepError extends Error {
  constructor(readonly explained: Explained) {
    super(`${explained.title} ${explained.detail}`.trim());
  }
}

export function explainAcmeError(e: unknown, ctx: { domain: string; directoryUrl: string; challenge: string; httpPort: number }): Explained {
  if (e instanceof AcmeStepError) return e.explained;
  const err = e as { message?: string; code?: string; response?: { status?: number; data?: { detail?: string; type?: string } } };
  const msg = String(err.message ?? e);
  const acmeType = err.response?.data?.type ?? /urn:ietf:params:acme:error:(\w+)/.exec(msg)?.[0] ?? '';
  const detail = err.response?.data?.detail ?? msg;
  if (/rateLimited/i.test(acmeType) || /too many certificates|rate limit/i.test(detail)) {
    return { title: 'The certificate authority says too many certificates were requested for this name recently.', fix: 'Wait an hour and try again. Let\'s Encrypt limits how often one name can get a certificate.', detail };
  }
  if (/dns|NXDOMAIN|SERVFAIL|no valid A records|no such host/i.test(acmeType + detail) && ctx.challenge === 'http-01') {
    return {
      title: `The certificate authority could not find ${ctx.domain} in DNS.`,
      fix: `Create an A (IPv4) or AAAA (IPv6) record for ${ctx.domain} at your DNS provider pointing to this box's public address, wait a few minutes, then try again.`,
      detail,
    };
  }
  if (/connection|timeout|refused|unreachable|fetching http/i.test(detail) && ctx.challenge === 'http-01') {
    return {
      title: `The certificate authority could not reach this box at http://${ctx.domain}${ctx.httpPort === 80 ? '' : `:${ctx.httpPort}`}/.`,
      fix: `Make sure ${ctx.domain} points to your public address and that your router forwards port ${ctx.httpPort} (TCP) to this box. If you cannot open port ${ctx.httpPort}, choose the DNS-01 method instead.`,
      detail,
    };
  }
  if (/unauthorized|incorrect TXT|No TXT record/i.test(acmeType + detail)) {
    return ctx.challenge === 'dns-01'
      ? { title: 'The certificate authority did not see the right TXT record.', fix: `Check that the TXT record _acme-challenge.${ctx.domain} has exactly the value shown, with no quotes or spaces, then try again.`, detail }
      : { title: `Someone else answered for ${ctx.domain}.`, fix: `${ctx.domain} seems to point to a different machine. Point it at this box's public address.`, detail };
  }
  if (/rejectedIdentifier|policy forbids|invalid domain|malformed/i.test(acmeType + detail)) {
    return { title: `The certificate authority will not issue a certificate for ${ctx.domain}.`, fix: 'Use a public domain name you own (not an IP address, and not a name like .local or .lan).', detail };
  }
  if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' || err.code === 'ETIMEDOUT' || err.code === 'ECONNRESET') {
    return unreachableCa(ctx.directoryUrl, err.code ?? '', detail);
  }
  if (/certificate|self[- ]signed|UNABLE_TO_VERIFY/i.test(detail) && /axios|request|connect/i.test(detail + (err.code ?? ''))) {
    return unreachableCa(ctx.directoryUrl, 'TLS', detail);
  }
  return { title: 'Getting the certificate failed.', fix: 'Try again in a few minutes. If it keeps failing, the details below say what the certificate authority answered.', detail };
}

export function unreachableCa(directoryUrl: string, code: string, detail: string): Explained {
  return {
    title: `Could not reach the certificate authority at ${directoryUrl}.`,
    fix:
      code === 'TLS'
        ? 'The connection to the certificate authority is not trusted. Check the date and time of this box, and any network filter in between.'
        : 'Check that this box is connected to the internet (and that its DNS works), then try again.',
    detail: `${code ? `${code}: ` : ''}${detail}`,
  };
}
