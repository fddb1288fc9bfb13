<?php
/*
 * Runs inside an app's PHP-FPM pool, sent there by Flight's fpm_opcache module over the pool's
 * unix socket (FastCGI). It must run in FPM, not on the command line: OPcache's shared memory
 * belongs to the FPM master, and the CLI has a cache of its own (or none).
 *
 * The module writes this file into the app's home (where the pool, confined by open_basedir,
 * may read it, and nginx never serves it), asks the pool to run it, and removes it. The first
 * thing it does is remove itself, so it does not outlive the request even if the caller dies.
 *
 * Request body (JSON): {"action": "status" | "warmup", ...}; answer: one JSON object.
 *
 *   status   opcache_get_status() in numbers; with "group_under": DIR, scripts and bytes
 *            per first folder under DIR (per release, for /home/APP/releases/).
 *   warmup   compile the PHP files of "release" into OPcache without running them
 *            (opcache_compile_file), hottest first: files that the serving release ("current")
 *            has in the cache, by hits; then the app's own files; then vendor/. Stops before
 *            OPcache's free memory would go under "floor_bytes", before the warm-up has used
 *            "budget_bytes", when the cache has no key left, or after "time_limit" seconds.
 *
 * When loaded from the command line (tests), only the functions are defined.
 */

declare(strict_types=1);

/**
 * Why compiling the next file would break a limit, or null to go on. Mirrored by budgetStop()
 * in modules/fpm_opcache.ts; the unit tests hold both to one table.
 *
 * $s: free (bytes of OPcache memory free now), used (bytes the warm-up has used so far),
 * estimate (bytes the next file is expected to take), floor, budget (bytes), keys, max_keys,
 * elapsed_ms, limit_ms.
 */
function flight_budget_stop(array $s): ?string
{
    if ($s['elapsed_ms'] >= $s['limit_ms']) {
        return 'time';
    }
    if ($s['keys'] >= $s['max_keys']) {
        return 'keys';
    }
    if ($s['free'] - $s['estimate'] < $s['floor']) {
        return 'floor';
    }
    if ($s['used'] + $s['estimate'] > $s['budget']) {
        return 'budget';
    }
    return null;
}

/** The numbers of opcache_get_status(false) Flight reports, or null when OPcache is off. */
function flight_opcache_numbers(): ?array
{
    $st = function_exists('opcache_get_status') ? @opcache_get_status(false) : false;
    if (!is_array($st)) {
        return null;
    }
    $mem = $st['memory_usage'] ?? [];
    $stats = $st['opcache_statistics'] ?? [];
    $interned = $st['interned_strings_usage'] ?? [];
    return [
        'enabled' => (bool) ($st['opcache_enabled'] ?? false),
        'cache_full' => (bool) ($st['cache_full'] ?? false),
        'restart_pending' => (bool) ($st['restart_pending'] ?? false),
        'memory' => [
            'used' => (int) ($mem['used_memory'] ?? 0),
            'free' => (int) ($mem['free_memory'] ?? 0),
            'wasted' => (int) ($mem['wasted_memory'] ?? 0),
        ],
        'interned' => [
            'used' => (int) ($interned['used_memory'] ?? 0),
            'size' => (int) ($interned['buffer_size'] ?? 0),
        ],
        'scripts' => (int) ($stats['num_cached_scripts'] ?? 0),
        'keys' => (int) ($stats['num_cached_keys'] ?? 0),
        'max_keys' => (int) ($stats['max_cached_keys'] ?? 0),
        'hits' => (int) ($stats['hits'] ?? 0),
        'misses' => (int) ($stats['misses'] ?? 0),
        'start_time' => (int) ($stats['start_time'] ?? 0),
        'last_restart_time' => (int) ($stats['last_restart_time'] ?? 0),
        'oom_restarts' => (int) ($stats['oom_restarts'] ?? 0),
        'hash_restarts' => (int) ($stats['hash_restarts'] ?? 0),
        'manual_restarts' => (int) ($stats['manual_restarts'] ?? 0),
        'validate_timestamps' => (bool) ini_get('opcache.validate_timestamps'),
    ];
}

/** Cached scripts under $dir, per first path segment below it: [name => [scripts, bytes]]. */
function flight_groups(string $dir): array
{
    $dir = rtrim($dir, '/') . '/';
    $st = @opcache_get_status(true);
    $groups = [];
    foreach (($st['scripts'] ?? []) as $path => $info) {
        if (strncmp((string) $path, $dir, strlen($dir)) !== 0) {
            continue;
        }
        $name = explode('/', substr((string) $path, strlen($dir)), 2)[0];
        $groups[$name] ??= ['scripts' => 0, 'bytes' => 0];
        $groups[$name]['scripts']++;
        $groups[$name]['bytes'] += (int) ($info['memory_consumption'] ?? 0);
    }
    ksort($groups);
    return $groups;
}

/**
 * The release's PHP files in the order to compile them. Symbolic links are not followed (the
 * shared/ paths: not part of the release, and their paths do not change between releases).
 *
 * @return array<string, int> path => size
 */
function flight_candidates(string $release, ?string $serving): array
{
    $hot = [];
    $own = [];
    $autoload = [];
    $vendor = [];
    $it = new RecursiveIteratorIterator(
        new RecursiveCallbackFilterIterator(
            new RecursiveDirectoryIterator($release, FilesystemIterator::SKIP_DOTS),
            static function (SplFileInfo $f): bool {
                if ($f->isLink()) {
                    return false;
                }
                if ($f->isDir()) {
                    // Never loaded by a request: version control, front-end sources, test suites.
                    return !in_array($f->getFilename(), ['.git', 'node_modules', 'tests', 'Tests', 'test'], true);
                }
                return str_ends_with($f->getFilename(), '.php');
            },
        ),
    );
    $base = strlen($release) + 1;
    foreach ($it as $path => $f) {
        $rel = substr((string) $path, $base);
        $size = (int) $f->getSize();
        if (str_starts_with($rel, 'vendor/composer/') || $rel === 'vendor/autoload.php') {
            $autoload[$path] = $size;
        } elseif (str_starts_with($rel, 'vendor/')) {
            $vendor[$path] = $size;
        } else {
            $own[$path] = $size;
        }
    }
    // What the serving release has in the cache is what requests load: those first, by hits.
    if ($serving !== null && $serving !== $release) {
        $st = @opcache_get_status(true);
        $prefix = $serving . '/';
        $scripts = [];
        foreach (($st['scripts'] ?? []) as $path => $info) {
            if (strncmp((string) $path, $prefix, strlen($prefix)) === 0) {
                $scripts[$release . '/' . substr((string) $path, strlen($prefix))] = (int) ($info['hits'] ?? 0);
            }
        }
        arsort($scripts);
        $all = $own + $autoload + $vendor;
        foreach ($scripts as $path => $_) {
            if (isset($all[$path])) {
                $hot[$path] = $all[$path];
            }
        }
    }
    return $hot + $autoload + $own + $vendor;
}

function flight_warmup(array $in): array
{
    $t0 = hrtime(true);
    $release = realpath((string) ($in['release'] ?? ''));
    if ($release === false || !is_dir($release)) {
        return ['ok' => false, 'error' => 'no such release folder: ' . ($in['release'] ?? '')];
    }
    $serving = isset($in['current']) ? realpath((string) $in['current']) : false;
    $numbers = flight_opcache_numbers();
    if ($numbers === null || !$numbers['enabled']) {
        return ['ok' => false, 'error' => 'OPcache is not enabled in this PHP-FPM'];
    }

    $files = flight_candidates($release, $serving === false ? null : $serving);

    // OPcache does not cache a file modified less than opcache.file_update_protection seconds
    // before the request started (it might still be being written), and the request's start
    // time is fixed, so waiting here would not help. Release commands have just written some
    // files (config cache, composer's autoloader), but a release is complete before it is
    // warmed and never written again: the protection has nothing to protect here.
    ini_set('opcache.file_update_protection', '0');

    // Never past the pool's own time limit: PHP would stop the request and report nothing.
    $limitMs = (int) (1000 * (float) ($in['time_limit'] ?? 20));
    $maxExec = (int) ini_get('max_execution_time');
    if ($maxExec > 0) {
        $limitMs = min($limitMs, max(1000, ($maxExec - 1) * 1000));
    }
    $floor = (int) ($in['floor_bytes'] ?? 0);
    $budget = (int) ($in['budget_bytes'] ?? PHP_INT_MAX);

    $errors = [];
    set_error_handler(static function (int $no, string $msg) use (&$errors): bool {
        if (count($errors) < 5) {
            $errors[] = $msg;
        }
        return true;
    });

    $start = flight_opcache_numbers();
    $free0 = $start['memory']['free'];
    $free = $free0;
    $keys = $start['keys'];
    $maxKeys = $start['max_keys'];
    // OPcache bytes per byte of source, learned as files compile; a cautious first guess.
    $ratio = 4.0;
    $compiled = $already = $notCached = $failed = 0;
    $notCachedFiles = [];
    $stopped = null;
    $tried = 0;
    foreach ($files as $path => $size) {
        $estimate = (int) max(2048, $size * $ratio);
        $stopped = flight_budget_stop([
            'free' => $free, 'used' => $free0 - $free, 'estimate' => $estimate, 'floor' => $floor,
            'budget' => $budget, 'keys' => $keys, 'max_keys' => $maxKeys,
            'elapsed_ms' => intdiv(hrtime(true) - $t0, 1_000_000), 'limit_ms' => $limitMs,
        ]);
        if ($stopped !== null) {
            break;
        }
        $tried++;
        if (opcache_is_script_cached($path)) {
            $already++;
            continue;
        }
        try {
            $ok = opcache_compile_file($path);
        } catch (Throwable $e) {
            $ok = false;
            if (count($errors) < 5) {
                $errors[] = substr($path, strlen($release) + 1) . ': ' . $e->getMessage();
            }
        }
        if (!$ok) {
            $failed++;
            continue;
        }
        $now = flight_opcache_numbers();
        $used = $free - $now['memory']['free'];
        $free = $now['memory']['free'];
        $keys = $now['keys'];
        if (!opcache_is_script_cached($path)) {
            // Compiled but not kept: the cache is full, or the file changed meanwhile.
            $notCached++;
            if (count($notCachedFiles) < 3) {
                $notCachedFiles[] = substr($path, strlen($release) + 1);
            }
            continue;
        }
        $compiled++;
        if ($size > 0 && $used > 0) {
            $ratio = 0.8 * $ratio + 0.2 * ($used / $size);
        }
    }
    restore_error_handler();
    $end = flight_opcache_numbers();
    return [
        'ok' => true,
        'release' => $release,
        'serving' => $serving === false ? null : $serving,
        'candidates' => count($files),
        'compiled' => $compiled,
        'already_cached' => $already,
        'not_cached' => $notCached,
        'not_cached_files' => $notCachedFiles,
        'failed' => $failed,
        'left' => count($files) - $tried,
        'stopped' => $stopped,
        'bytes' => $free0 - $end['memory']['free'],
        'ms' => intdiv(hrtime(true) - $t0, 1_000_000),
        'errors' => $errors,
        'status' => $end,
    ];
}

function flight_main(): void
{
    // Gone from disk as soon as it runs: nothing is left behind if the caller dies.
    @unlink(__FILE__);
    header('Content-Type: application/json');
    header('Cache-Control: no-store');
    $in = json_decode((string) file_get_contents('php://input'), true);
    if (!is_array($in)) {
        http_response_code(400);
        echo json_encode(['ok' => false, 'error' => 'the request body is not a JSON object']);
        return;
    }
    switch ($in['action'] ?? '') {
        case 'status':
            $numbers = flight_opcache_numbers();
            $out = ['ok' => true, 'status' => $numbers];
            if ($numbers !== null && isset($in['group_under'])) {
                $out['groups'] = flight_groups((string) $in['group_under']);
            }
            break;
        case 'warmup':
            $out = flight_warmup($in);
            break;
        default:
            http_response_code(400);
            $out = ['ok' => false, 'error' => 'unknown action'];
    }
    echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR);
}

if (PHP_SAPI === 'fpm-fcgi') {
    flight_main();
}
