/** A `validate:` argument (a checker run on the new file before it replaces the old): its argv. */

/**
 * Split a command line into words the way a POSIX shell would for quotes and backslashes
 * (no expansions), so `validate: "nginx -t -c %s"` becomes argv and is never re-parsed remotely.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${line}`);
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      inWord = true;
      for (i++; ; i++) {
        if (i >= line.length) throw new Error(`unterminated " in: ${line}`);
        const d = line[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) cur += line[++i];
        else cur += d;
      }
    } else if (c === '\\') {
      if (i + 1 < line.length) cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/**
 * The validator's argv with every %s replaced by the temp file's path. A string is split into
 * words; an argv array (for modules carrying a fixed validator) is taken as it is.
 */
export function validateArgv(validate: string | readonly string[], tmp: string): string[] {
  const words = typeof validate === 'string' ? splitWords(validate) : [...validate];
  if (!words.some((w) => w.includes('%s'))) throw new Error(`validate must contain %s (the file to check): ${words.join(' ')}`);
  return words.map((w) => w.split('%s').join(tmp));
}
