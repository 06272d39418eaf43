import fs from 'node:fs';
import path from 'node:path';

/** One credential found in one file. */
export interface SecretFinding {
  file: string;
  /** Which credential (its name, never its value). */
  secret: string;
}

/** What a scan covered and found. */
export interface SecretScan {
  files: number;
  bytes: number;
  findings: SecretFinding[];
}

/**
 * Looks for credentials in every file under `roots` (folders are walked; missing ones skipped): each
 * secret verbatim and percent-encoded, as it would appear inside a URL. Findings name the secret, not
 * its value, so the report itself cannot leak it.
 */
export function scanForSecrets(roots: readonly string[], secrets: Readonly<Record<string, string>>): SecretScan {
  const scan: SecretScan = { files: 0, bytes: 0, findings: [] };
  const needles = Object.entries(secrets).flatMap(([name, value]) => {
    const forms = new Set([value, encodeURIComponent(value)]);
    return [...forms].filter((f) => f.length >= 8).map((f) => ({ name, bytes: Buffer.from(f, 'utf8') }));
  });
  const visit = (file: string) => {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch {
      return;
    }
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(file)) visit(path.join(file, entry));
      return;
    }
    if (!stat.isFile()) return;
    const body = fs.readFileSync(file);
    scan.files++;
    scan.bytes += body.length;
    const found = new Set<string>();
    for (const n of needles) if (!found.has(n.name) && body.includes(n.bytes)) found.add(n.name);
    for (const secret of found) scan.findings.push({ file, secret });
  };
  for (const root of roots) visit(root);
  return scan;
}
