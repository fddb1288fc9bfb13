<?php

namespace App\Http\Controllers;

use App\Release;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Cache;
use Illuminate\Support\Facades\DB;
use Throwable;

class PageController extends Controller
{
    /**
     * GET /: what serves this request, one `key: value` per line. `?delay_ms=N` (at most 60 s)
     * waits between the entry point's read of the revision and the page's, to hold a request
     * open across a switch.
     */
    public function index(Request $request)
    {
        // From the first line of public/index.php to here: the framework's boot, routing and
        // middleware, most of it loading PHP files (from OPcache when warm).
        $bootUs = defined('LARAVEL_START') ? (int) round((microtime(true) - LARAVEL_START) * 1e6) : 0;
        $counter = (int) $request->session()->get('counter', 0) + 1;
        $request->session()->put('counter', $counter);
        usleep(1000 * min(60000, max(0, (int) $request->query('delay_ms', 0))));

        return $this->lines([
            'sha' => Release::sha(),
            'marker' => defined('ENTRY_REVISION') ? ENTRY_REVISION : 'none',
            'version' => Release::version(),
            'release' => Release::name(),
            'greeting' => config('app.greeting'),
            'config' => app()->configurationIsCached() ? 'cache' : 'env',
            'routes' => app()->routesAreCached() ? 'cache' : 'none',
            'counter' => $counter,
            'db' => $this->database(),
            'cache' => $this->cacheHits(),
            'user' => Release::user(),
            'pid' => getmypid(),
            'boot_us' => $bootUs,
            'files' => count(get_included_files()),
        ]);
    }

    /** GET /health: 200 without touching the database, the session or the cache. */
    public function health()
    {
        return response("ok\n", 200)->header('Content-Type', 'text/plain; charset=UTF-8');
    }

    /** GET /view: the same facts through a Blade view (what `view:cache` compiles). */
    public function view()
    {
        return view('release', [
            'release' => Release::name(),
            'sha' => Release::sha(),
            'version' => Release::version(),
            'greeting' => config('app.greeting'),
        ]);
    }

    /**
     * The cache store and a count of pages served through it: "redis 12" (shared by every
     * server), "file 3" (this server's), or "redis error: <short reason>".
     */
    private function cacheHits(): string
    {
        $store = config('cache.default');
        try {
            return $store.' '.Cache::increment('page-hits');
        } catch (Throwable $e) {
            return "$store error: ".self::shortReason($e);
        }
    }

    /** "mysql ok", "sqlite ok" or "mysql error: <short reason>"; never credentials. */
    private function database(): string
    {
        $name = config('database.default');
        try {
            $connection = DB::connection();
            $name = $connection->getName();
            $connection->select('select 1');

            return "$name ok";
        } catch (Throwable $e) {
            return "$name error: ".self::shortReason($e);
        }
    }

    /** The first line of an error, without the SQL, quoted names or hosts. */
    private static function shortReason(Throwable $e): string
    {
        $message = strtok($e->getMessage(), "\n") ?: class_basename($e);
        $message = preg_replace('/\s*\(SQL: .*$/s', '', $message);
        $message = preg_replace("/'[^']*'(@'[^']*')?/", '…', $message);
        $message = preg_replace('/(host|user|password|dbname)=\S+/i', '$1=…', $message);

        return mb_strimwidth(trim($message), 0, 120, '…');
    }
}
