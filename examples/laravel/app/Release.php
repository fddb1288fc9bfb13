<?php

namespace App;

/**
 * What this copy of the app is: the release directory it runs from, the commit Flight
 * deployed (the REVISION file), the label in app/version.php, the host and the user.
 */
class Release
{
    /** Name of the release directory: the base path with symlinks (current) resolved. */
    public static function name(): string
    {
        return basename(realpath(base_path()) ?: base_path());
    }

    /** The sha in the REVISION file that Flight writes at the base path, or "none". */
    public static function sha(): string
    {
        $file = base_path('REVISION');
        $sha = is_file($file) ? trim((string) file_get_contents($file)) : '';

        return $sha !== '' ? $sha : 'none';
    }

    /** The label in app/version.php (`<?php return 'v1';`). */
    public static function version(): string
    {
        return (string) require base_path('app/version.php');
    }

    public static function host(): string
    {
        return gethostname() ?: 'unknown';
    }

    /** The user PHP runs as. */
    public static function user(): string
    {
        if (function_exists('posix_geteuid')) {
            $user = posix_getpwuid(posix_geteuid());
            if ($user !== false) {
                return $user['name'];
            }
        }

        return get_current_user();
    }
}
