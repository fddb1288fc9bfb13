/**
 * The machine's own Debian apt sources, read from both formats (one-line `sources.list` and deb822
 * `*.sources`), so the lab downloads from the same mirror the machine already uses and the image's
 * apt points there too.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface AptSource {
  uris: string[];
  suites: string[];
  components: string[];
  signedBy?: string;
}

/** The lab's Debian release: the cluster file's PHP 8.2 is bookworm's. */
export const LAB_SUITE = 'bookworm';
const FALLBACK: AptSource[] = [
  { uris: ['http://deb.debian.org/debian'], suites: [LAB_SUITE, `${LAB_SUITE}-updates`], components: ['main'] },
  { uris: ['http://deb.debian.org/debian-security'], suites: [`${LAB_SUITE}-security`], components: ['main'] },
];

/** Parse one-line format: `deb [opt=val ...] URI SUITE COMPONENT...`. */
export function parseOneLine(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const options = Object.fromEntries(
      (m[1] ?? '').split(/\s+/).filter(Boolean).map((o) => o.split('=') as [string, string]),
    );
    out.push({
      uris: [m[2]!],
      suites: [m[3]!],
      components: m[4]!.split(/\s+/).filter(Boolean),
      signedBy: options['signed-by'],
    });
  }
  return out;
}

/** Parse deb822 format: blank-line separated stanzas of `Key: value` with indented continuations. */
export function parseDeb822(text: string): AptSource[] {
  const out: AptSource[] = [];
  const stanzas = text.split(/\n\s*\n/);
  for (const stanza of stanzas) {
    const fields: Record<string, string> = {};
    let key = '';
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) {
        key = m[1]!.toLowerCase();
        fields[key] = m[2]!;
      } else if (/^\s/.test(line) && key) {
        fields[key] += `\n${line.trim()}`;
      }
    }
    const words = (k: string) => (fields[k] ?? '').split(/\s+/).filter(Boolean);
    if (!words('types').includes('deb') || (fields.enabled ?? 'yes').trim() === 'no') continue;
    const signedBy = fields['signed-by']?.trim();
    out.push({
      uris: words('uris'),
      suites: words('suites'),
      components: words('components'),
      // An inline key block cannot be copied as a path; the image has Debian's keyring anyway.
      signedBy: signedBy && !signedBy.includes('\n') ? signedBy : undefined,
    });
  }
  return out;
}

/** Every deb source apt would read on this machine. */
export function machineSources(etcApt = '/etc/apt'): AptSource[] {
  const sources: AptSource[] = [];
  const main = path.join(etcApt, 'sources.list');
  if (fs.existsSync(main)) sources.push(...parseOneLine(fs.readFileSync(main, 'utf8')));
  const dir = path.join(etcApt, 'sources.list.d');
  const names = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  for (const name of names) {
    const file = path.join(dir, name);
    if (name.endsWith('.list')) sources.push(...parseOneLine(fs.readFileSync(file, 'utf8')));
    else if (name.endsWith('.sources')) sources.push(...parseDeb822(fs.readFileSync(file, 'utf8')));
  }
  return sources;
}

function machineCodename(): string | undefined {
  try {
    return /^VERSION_CODENAME=(\S+)$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1]?.replace(/"/g, '');
  } catch {
    return undefined;
  }
}

/**
 * The Debian sources for the lab image: the machine's sources for its own release and that
 * release's -updates/-security pockets, renamed to the lab's suite; third-party repositories
 * (their suites are not the release's) are left out. Falls back to deb.debian.org.
 */
export function labSources(sources = machineSources(), codename = machineCodename()): AptSource[] {
  const release = codename ?? LAB_SUITE;
  const ours = (suite: string) => suite === release || suite.startsWith(`${release}-`) || suite.startsWith(`${release}/`);
  const picked = sources
    .filter((s) => s.suites.some(ours) && s.components.includes('main') && s.uris.some((u) => /^https?:/.test(u)))
    .map((s) => ({
      ...s,
      uris: s.uris.filter((u) => /^https?:/.test(u)),
      suites: s.suites.filter(ours).map((suite) => LAB_SUITE + suite.slice(release.length)),
      components: ['main'],
      // Any mirror of Debian is signed by Debian's keys, which the image has; a host-only keyring path would not resolve.
      signedBy: undefined,
    }));
  const hasMain = picked.some((s) => s.suites.includes(LAB_SUITE));
  return hasMain ? picked : FALLBACK;
}

/** The mirror debootstrap downloads from: the first source carrying the release itself. */
export function bootstrapMirror(sources: AptSource[]): string {
  return sources.find((s) => s.suites.includes(LAB_SUITE))!.uris[0]!;
}

/** deb822 text for the image's /etc/apt/sources.list.d/debian.sources. */
export function renderDeb822(sources: AptSource[]): string {
  return sources
    .map((s) =>
      [
        'Types: deb',
        `URIs: ${s.uris.join(' ')}`,
        `Suites: ${s.suites.join(' ')}`,
        `Components: ${s.components.join(' ')}`,
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      ].join('\n'),
    )
    .join('\n\n')
    .concat('\n');
}
