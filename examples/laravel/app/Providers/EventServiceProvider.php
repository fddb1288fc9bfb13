<?php

namespace App\Providers;

use App\Listeners\LogProcessedJob;
use Illuminate\Foundation\Support\Providers\EventServiceProvider as ServiceProvider;
use Illuminate\Queue\Events\JobProcessed;

class EventServiceProvider extends ServiceProvider
{
    /**
     * The event listener mappings for the application (what `event:cache` caches).
     *
     * @var array<class-string, array<int, class-string>>
     */
    protected $listen = [
        JobProcessed::class => [
            LogProcessedJob::class,
        ],
    ];

    /**
     * Register any events for your application.
     *
     * @return void
     */
    public function boot()
    {
        //
    }

    /**
     * Determine if events and listeners should be automatically discovered.
     *
     * @return bool
     */
    public function shouldDiscoverEvents()
    {
        return false;
    }
}
