/**
 * The sandbox's private CA: one CA, and server certificates for the Kubernetes API and the
 * TLS Redis servers, made with the openssl CLI (present on every Debian machine).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface IssuedCert {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

export interface SandboxPki {
  dir: string;
  caFile: string;
  caPem: string;
  /** Issue a server certificate for the given DNS names and IPs (127.0.0.1 and localhost are always added). */
  issue(name: string, dnsNames?: string[]): IssuedCert;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createSandboxPki(dir: string): SandboxPki {
  mkdirSync(dir, { recursive: true });
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.crt');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=spin-elasticache sandbox CA'], dir);
  const caPem = readFileSync(caFile, 'utf8');
  let serial = 1;
  return {
    dir,
    caFile,
    caPem,
    issue(name, dnsNames = []) {
      const keyFile = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const certFile = join(dir, `${name}.crt`);
      const ext = join(dir, `${name}.ext`);
      const sans = ['DNS:localhost', 'IP:127.0.0.1', ...dnsNames.map((d) => (/^\d+\.\d+\.\d+\.\d+$/.test(d) ? `IP:${d}` : `DNS:${d}`))];
      // clientAuth too: with tls-cluster yes the nodes show their certificate to each other on the
      // cluster bus, and Redis verifies it as a client certificate (redis.conf, "tls-cluster"; src/tls.c).
      writeFileSync(ext, `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n`);
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`], dir);
      openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-set_serial', String(serial++), '-out', certFile, '-days', '2', '-extfile', ext], dir);
      return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
    },
  };
}
