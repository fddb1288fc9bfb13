/**
 * Reading an env file with real phpdotenv, as Laravel 8 does, to check what Flight writes:
 * Illuminate\Support\Env::getRepository() builds this repository (default adapters, putenv,
 * immutable) and LoadEnvironmentVariables loads the app's .env into it. Debian's
 * php-vlucas-phpdotenv puts the autoloader on PHP's include path.
 */

/** `php -r DOTENV_PHP -- DIR FILE KEYS_JSON` prints {key: value or null} as JSON. */
export const DOTENV_PHP = `require 'Dotenv/autoload.php';
[, $dir, $file, $keys] = $argv;
$repo = Dotenv\\Repository\\RepositoryBuilder::createWithDefaultAdapters()->addAdapter(Dotenv\\Repository\\Adapter\\PutenvAdapter::class)->immutable()->make();
Dotenv\\Dotenv::create($repo, $dir, $file)->load();
echo json_encode(array_combine($keys = json_decode($keys), array_map(fn ($k) => $repo->get($k), $keys)));`;

/** Where Debian's package puts phpdotenv: present means DOTENV_PHP can run. */
export const DOTENV_AUTOLOAD = '/usr/share/php/Dotenv/autoload.php';

/**
 * Values that would break a naive writer: quotes, both kinds of variable reference, a comment
 * sign, a backslash (also last, before the closing quote), spaces at the ends, non-ASCII.
 */
export const HOSTILE_VALUES: Record<string, string> = {
  DB_PASSWORD: `p"a'ss\\w$rd \${HOME} $HOME #not-a-comment`,
  DB_USERNAME: 'ends with a backslash\\',
  DB_DATABASE: '  spaced  ',
  DB_HOST: `\\"\\\\$\${`,
  DB_PORT: '',
  DB_CONNECTION: 'mysql=é€',
};
