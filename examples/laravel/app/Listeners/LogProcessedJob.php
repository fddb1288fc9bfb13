<?php

namespace App\Listeners;

use App\Release;
use Illuminate\Queue\Events\JobProcessed;
use Illuminate\Support\Facades\Log;

/** A line in the log for each job a worker has processed (a listener for `event:cache`). */
class LogProcessedJob
{
    public function handle(JobProcessed $event)
    {
        Log::info(sprintf('processed %s on %s, release %s', $event->job->resolveName(), $event->connectionName, Release::name()));
    }
}
