<?php
// Called by scripts/laravel-packages (read it first). Builds a Composer artifact repository in
// DIR from the PHP libraries that Debian installed in /usr/share/php for php-laravel-framework:
// one zip per upstream package (laravel/framework holds all the php-illuminate-* packages),
// each with a composer.json at its root. Usage: php laravel-packages.php DIR
declare(strict_types=1);

const SHARE = '/usr/share/php';
const ROOT_PACKAGE = 'php-laravel-framework';
// The time written into every zip entry (1 Jan 2000, UTC): a rebuild gives the same bytes.
const ZIP_MTIME = 946684800;

// Debian package (or source package, for laravel/framework) => upstream Composer name;
// php-symfony-X is symfony/X.
const NAMES = [
    'php-laravel-framework' => 'laravel/framework',
    'php-brick-math' => 'brick/math',
    'php-dflydev-dot-access-data' => 'dflydev/dot-access-data',
    'php-doctrine-deprecations' => 'doctrine/deprecations',
    'php-doctrine-inflector' => 'doctrine/inflector',
    'php-doctrine-lexer' => 'doctrine/lexer',
    'php-dragonmantank-cron-expression' => 'dragonmantank/cron-expression',
    'php-email-validator' => 'egulias/email-validator',
    'php-graham-campbell-result-type' => 'graham-campbell/result-type',
    'php-laravel-serializable-closure' => 'laravel/serializable-closure',
    'php-league-commonmark' => 'league/commonmark',
    'php-league-config' => 'league/config',
    'php-league-flysystem' => 'league/flysystem',
    'php-league-mime-type-detection' => 'league/mime-type-detection',
    'php-monolog' => 'monolog/monolog',
    'php-nesbot-carbon' => 'nesbot/carbon',
    'php-nette-schema' => 'nette/schema',
    'php-nette-utils' => 'nette/utils',
    'php-opis-closure' => 'opis/closure',
    'php-phpoption' => 'phpoption/phpoption',
    'php-psr-container' => 'psr/container',
    'php-psr-event-dispatcher' => 'psr/event-dispatcher',
    'php-psr-log' => 'psr/log',
    'php-psr-simple-cache' => 'psr/simple-cache',
    'php-ramsey-collection' => 'ramsey/collection',
    'php-ramsey-uuid' => 'ramsey/uuid',
    'php-swiftmailer' => 'swiftmailer/swiftmailer',
    'php-tijsverkoyen-css-to-inline-styles' => 'tijsverkoyen/css-to-inline-styles',
    'php-vlucas-phpdotenv' => 'vlucas/phpdotenv',
    'php-voku-portable-ascii' => 'voku/portable-ascii',
    'php-webmozart-assert' => 'webmozart/assert',
];
// Upstream composer.json "extra" that Laravel's package discovery reads.
const EXTRA = [
    'nesbot/carbon' => ['laravel' => ['providers' => ['Carbon\\Laravel\\ServiceProvider']]],
];

function fail(string $msg): never
{
    fwrite(STDERR, "laravel-packages: $msg\n");
    exit(1);
}

function run(array $argv): string
{
    $p = proc_open($argv, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
    $out = stream_get_contents($pipes[1]);
    $err = stream_get_contents($pipes[2]);
    if (proc_close($p) !== 0) fail(implode(' ', $argv) . ": $err");
    return $out;
}

/** Status, version, source, depends, description of installed packages (one dpkg-query call). */
function dpkgInfo(array $names): array
{
    $fmt = '${Package}\t${db:Status-Abbrev}\t${Version}\t${source:Package}\t${Depends}\t${binary:Summary}\n';
    $p = proc_open(array_merge(['dpkg-query', '-W', '-f=' . $fmt], $names), [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
    $out = stream_get_contents($pipes[1]);
    stream_get_contents($pipes[2]);
    proc_close($p); // non-zero when a name is not installed: such names are simply absent
    $info = [];
    foreach (explode("\n", trim($out)) as $line) {
        if ($line === '') continue;
        [$pkg, $status, $version, $source, $depends, $summary] = explode("\t", $line) + array_fill(0, 6, '');
        if (!str_starts_with($status, 'ii')) continue;
        $info[$pkg] = compact('version', 'source', 'depends', 'summary');
    }
    return $info;
}

/** "a (>= 1), b | c, d (<< 2~~)" => [[name, op, version], ...], first installed alternative. */
function parseDepends(string $depends, callable $installed): array
{
    $deps = [];
    foreach (array_filter(array_map('trim', explode(',', $depends))) as $clause) {
        $alts = array_map('trim', explode('|', $clause));
        $chosen = $alts[0];
        if (count($alts) > 1) foreach ($alts as $alt) {
            if ($installed(preg_replace('/[\s(:].*$/', '', $alt))) { $chosen = $alt; break; }
        }
        if (!preg_match('/^([a-z0-9.+-]+)(?::\S+)?\s*(?:\(\s*(<<|<=|=|>=|>>)\s*([^)\s]+)\s*\))?/', $chosen, $m)) continue;
        $deps[] = [$m[1], $m[2] ?? '', $m[3] ?? ''];
    }
    return $deps;
}

/** Debian "1:8.83.26+dfsg-2+deb12u1" => ["8.83.26", "2+deb12u1"]. */
function splitVersion(string $v): array
{
    $v = preg_replace('/^\d+:/', '', $v);
    $dash = strrpos($v, '-');
    [$up, $rev] = $dash === false ? [$v, '0'] : [substr($v, 0, $dash), substr($v, $dash + 1)];
    $up = preg_replace('/[+~](dfsg|ds|repack)\d*.*$/i', '', $up);
    return [$up, $rev];
}

/** Composer version carrying the Debian version: 8.83.26+dfsg-2 => 8.83.26-p2, 5.4.53+dfsg-0+deb12u1 => 5.4.53-p0.12.1. */
function composerVersion(string $debian): string
{
    [$up, $rev] = splitVersion($debian);
    if (!preg_match('/^\d+(\.\d+){0,2}$/', $up)) fail("cannot make a Composer version of Debian version $debian");
    preg_match_all('/\d+/', $rev, $m);
    return $up . '-p' . (implode('.', array_map('intval', $m[0])) ?: '0');
}

/** A Debian version constraint as a Composer one, or null when it cannot be said. */
function composerConstraint(string $op, string $v): ?string
{
    if ($op === '') return '*';
    [$up] = splitVersion(preg_replace('/~~?$/', '', $v));
    $up = preg_replace('/~.*$/', '', $up);
    if (!preg_match('/^\d+(\.\d+){0,3}$/', $up)) return null;
    return match ($op) { '>=' => ">=$up", '>>' => ">$up", '<=' => "<=$up.9999", '<<' => "<$up", '=' => null };
}

/** Class map of a Debian autoload.php: [lowercase class => path relative to its folder]. */
function debianClassMap(string $autoload): array
{
    preg_match_all("~^\\s*'([^']+)' => '(/[^']+)',?\\s*$~m", file_get_contents($autoload), $m, PREG_SET_ORDER);
    $map = [];
    foreach ($m as [, $class, $file]) $map[str_replace('\\\\', '\\', $class)] = ltrim($file, '/');
    return $map;
}

/** The function files a Debian autoload.php loads ("Files" part), relative to its folder. */
function debianFiles(string $autoload): array
{
    preg_match_all("~^require_once __DIR__\\s*\\.\\s*'/([^']+)';~m", file_get_contents($autoload), $m);
    return array_values(array_filter($m[1], fn ($f) => !str_starts_with($f, '../') && basename($f) !== 'autoload.php'));
}

/**
 * The namespace prefix that maps a folder's class map PSR-4 style, or null if it does not. A
 * class that does not fit is allowed when it shares its file with one that does (a helper
 * class, loaded with it) or lives in a test file.
 */
function psr4Prefix(string $dir, array $map): ?string
{
    if (!$map) return null;
    $prefix = null;
    foreach ($map as $class => $file) {
        if (str_starts_with($file, '../')) return null;
        if (!preg_match('/^namespace\s+([A-Za-z0-9_\\\\]+)\s*;/m', file_get_contents("$dir/$file"), $m)) continue;
        $ns = explode('\\', $m[1]);
        $sub = array_values(array_filter(explode('/', dirname($file)), fn ($s) => $s !== '.'));
        if (count($sub) > count($ns)) continue;
        if (array_map('strtolower', array_slice($ns, count($ns) - count($sub))) !== array_map('strtolower', $sub)) continue;
        $prefix = implode('\\', array_slice($ns, 0, count($ns) - count($sub))) . '\\';
        if (strtolower($prefix . str_replace('/', '\\', substr($file, 0, -4))) === $class) break;
        $prefix = null;
    }
    if ($prefix === null) return null;
    $fits = [];
    foreach ($map as $class => $file) {
        if (strtolower($prefix . str_replace('/', '\\', substr($file, 0, -4))) === $class) $fits[$file] = true;
    }
    foreach ($map as $class => $file) {
        if (!isset($fits[$file]) && !preg_match('~(^|/)Tests?/~', $file)) return null;
    }
    return $prefix;
}

function zipPackage(string $target, array $json, array $files): void
{
    $tmp = $target . '.tmp';
    @unlink($tmp);
    $zip = new ZipArchive();
    if ($zip->open($tmp, ZipArchive::CREATE | ZipArchive::EXCL) !== true) fail("cannot write $tmp");
    $entries = ['composer.json' => ['data' => json_encode($json, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES) . "\n", 'mode' => 0644]];
    foreach ($files as $name => $path) $entries[$name] = ['path' => $path, 'mode' => is_executable($path) ? 0755 : 0644];
    ksort($entries, SORT_STRING);
    foreach ($entries as $name => $e) {
        $ok = isset($e['data']) ? $zip->addFromString($name, $e['data']) : $zip->addFile($e['path'], $name);
        if (!$ok) fail("cannot add $name to $target");
        $zip->setMtimeName($name, ZIP_MTIME);
        $zip->setExternalAttributesName($name, ZipArchive::OPSYS_UNIX, (0100000 | $e['mode']) << 16);
        $zip->setCompressionName($name, ZipArchive::CM_DEFLATE, 9);
    }
    if (!$zip->close()) fail("cannot write $tmp");
    rename($tmp, $target);
}

// --- main ---------------------------------------------------------------------------------
$dir = $argv[1] ?? fail('usage: laravel-packages DIR');
if (!extension_loaded('zip')) fail("PHP's zip extension is missing (apt-get install php-zip)");
if (!is_dir($dir) && !mkdir($dir, 0777, true)) fail("cannot create $dir");
// Zips made by another version of this script are made again.
$stamp = "$dir/.laravel-packages";
$builder = sha1_file(__FILE__);
if (!is_file($stamp) || trim(file_get_contents($stamp)) !== $builder) {
    array_map('unlink', glob("$dir/*.zip"));
    file_put_contents($stamp, "$builder\n");
}

// The Debian packages: php-laravel-framework and everything it depends on that ships PHP
// code in /usr/share/php (php-common, php-mbstring... are PHP itself, not packages here).
$files = []; // Debian package => its files in /usr/share/php
$info = dpkgInfo([ROOT_PACKAGE]);
if (!isset($info[ROOT_PACKAGE])) fail(ROOT_PACKAGE . ' is not installed (apt-get install ' . ROOT_PACKAGE . ')');
$installed = fn (string $p) => isset(dpkgInfo([$p])[$p]);
$queue = [ROOT_PACKAGE];
$deps = [];
while ($queue) {
    $pkg = array_shift($queue);
    if (isset($files[$pkg])) continue;
    $listFile = "/var/lib/dpkg/info/$pkg.list";
    $list = is_file($listFile) ? file_get_contents($listFile) : run(['dpkg-query', '-L', $pkg]);
    $list = array_filter(explode("\n", $list), fn ($f) => str_starts_with($f, SHARE . '/') && is_file($f)); // a symlink's target is copied
    $files[$pkg] = array_values($list);
    if (!$list) continue;
    $deps[$pkg] = parseDepends($info[$pkg]['depends'], $installed);
    $more = array_diff(array_unique(array_column($deps[$pkg], 0)), array_keys($files), $queue);
    $info += dpkgInfo(array_values($more));
    // A name that is not installed is a virtual package (php-json: PHP itself provides it).
    foreach ($more as $d) if (isset($info[$d])) $queue[] = $d;
}
$files = array_filter($files);

// Group: Debian package => Composer package (all of laravel's source package in one).
$group = [];
foreach (array_keys($files) as $pkg) {
    $key = $info[$pkg]['source'] === ROOT_PACKAGE ? ROOT_PACKAGE : $pkg;
    $name = NAMES[$key] ?? (preg_match('/^php-symfony-(.+)$/', $pkg, $m) ? "symfony/$m[1]" : null);
    if ($name === null) {
        $name = 'debian/' . preg_replace('/^php-/', '', $pkg);
        fwrite(STDERR, "laravel-packages: warning: no Composer name known for $pkg; calling it $name\n");
    }
    $group[$name][] = $pkg;
}
ksort($group);
$nameOf = [];
foreach ($group as $name => $pkgs) foreach ($pkgs as $p) $nameOf[$p] = $name;

$wanted = [];
$built = 0;
foreach ($group as $name => $pkgs) {
    sort($pkgs);
    $versions = array_unique(array_map(fn ($p) => $info[$p]['version'], $pkgs));
    if (count($versions) !== 1) fail("$name: Debian packages of different versions: " . implode(', ', $pkgs));
    $debVersion = reset($versions);
    $version = composerVersion($debVersion);
    $zipName = str_replace('/', '-', $name) . "-$version.zip";
    $wanted[] = $zipName;
    if (is_file("$dir/$zipName")) continue; // same Debian version: same bytes

    // Files, autoload: every Debian autoload.php marks a package folder; it is left out.
    $entries = [];
    $psr4 = [];
    $classmap = [];
    $autoFiles = [];
    foreach ($pkgs as $p) {
        foreach ($files[$p] as $f) {
            $rel = substr($f, strlen(SHARE) + 1);
            if (basename($f) === 'autoload.php') {
                $d = dirname($rel);
                foreach (debianFiles($f) as $ff) $autoFiles[] = "src/$d/$ff";
                $prefix = psr4Prefix(dirname($f), debianClassMap($f));
                if ($prefix !== null) $psr4[$prefix][] = "src/$d/";
                elseif (debianClassMap($f)) $classmap = ['src/'];
                continue;
            }
            $entries["src/$rel"] = $f;
        }
    }
    // A folder that is not PSR-4 (nette/utils: upstream too has a class map): the whole
    // package is class-mapped. Else drop a PSR-4 folder that a shorter prefix already maps.
    if ($classmap) $psr4 = [];
    foreach ($psr4 as $prefix => $paths) {
        $psr4[$prefix] = array_values(array_filter($paths, function ($path) use ($prefix, $psr4) {
            foreach ($psr4 as $other => $otherPaths) {
                if ($other === $prefix || !str_starts_with($prefix, $other)) continue;
                $rest = str_replace('\\', '/', substr($prefix, strlen($other)));
                foreach ($otherPaths as $op) if ($op . $rest === $path) return false;
            }
            return true;
        }));
        sort($psr4[$prefix]);
        if (!$psr4[$prefix]) unset($psr4[$prefix]);
        elseif (count($psr4[$prefix]) === 1) $psr4[$prefix] = $psr4[$prefix][0];
    }
    ksort($psr4);
    $autoFiles = array_values(array_unique($autoFiles));
    sort($autoFiles);
    $autoload = array_filter(['psr-4' => $psr4, 'classmap' => $classmap, 'files' => $autoFiles]);
    if (!$autoload) fail("$name: no autoload found");

    $require = [];
    foreach ($pkgs as $p) {
        foreach ($deps[$p] as [$d, $op, $v]) {
            $dn = $nameOf[$d] ?? null;
            if ($dn === null || $dn === $name) continue;
            $c = composerConstraint($op, $v);
            if ($c === null) { $require[$dn] ??= []; continue; }
            $require[$dn][] = $c;
        }
    }
    ksort($require);
    $require = array_map(fn ($cs) => implode(' ', array_unique(array_filter($cs, fn ($c) => $c !== '*'))) ?: '*', $require);

    $replace = [];
    foreach ($pkgs as $p) {
        if (preg_match('/^php-illuminate-(.+)$/', $p, $m)) $replace["illuminate/{$m[1]}"] = 'self.version';
    }
    $main = in_array(ROOT_PACKAGE, $pkgs, true) ? ROOT_PACKAGE : $pkgs[0];
    $json = array_filter([
        'name' => $name,
        'description' => $info[$main]['summary'] . ' (from Debian)',
        'version' => $version,
        'type' => 'library',
        'require' => $require ?: null,
        'replace' => $replace ?: null,
        'autoload' => $autoload,
        'extra' => array_merge(EXTRA[$name] ?? [], ['debian' => ['packages' => $pkgs, 'version' => $debVersion]]),
    ], fn ($v) => $v !== null);
    $copyright = '/usr/share/doc/' . $main . '/copyright';
    if (is_file($copyright)) $entries['debian-copyright'] = $copyright;
    zipPackage("$dir/$zipName", $json, $entries);
    $built++;
}

// The repository is this set exactly: zips of other versions go.
$removed = 0;
foreach (glob("$dir/*.zip") as $z) {
    if (!in_array(basename($z), $wanted, true)) { unlink($z); $removed++; }
}
$bytes = array_sum(array_map(fn ($z) => filesize("$dir/$z"), $wanted));
printf("%d packages in %s (%d built, %d already there, %d removed), %.1f MB\n",
    count($wanted), $dir, $built, count($wanted) - $built, $removed, $bytes / 1e6);
