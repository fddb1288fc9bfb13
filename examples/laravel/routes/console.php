<?php

use App\Release;
use Illuminate\Support\Facades\Artisan;

/*
|--------------------------------------------------------------------------
| Console Routes
|--------------------------------------------------------------------------
|
| Closure based console commands.
|
*/

Artisan::command('app:release', function () {
    $this->line('release: '.Release::name());
    $this->line('sha: '.Release::sha());
    $this->line('version: '.Release::version());
    $this->line('config: '.(app()->configurationIsCached() ? 'cache' : 'env'));
    $this->line('routes: '.(app()->routesAreCached() ? 'cache' : 'none'));
    $this->line('queue: '.config('queue.default'));
    $this->line('user: '.Release::user());
})->purpose('Show which release this is: release, sha, version, caches, queue, user');
