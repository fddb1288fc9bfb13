<?php

namespace App\Jobs;

use App\Models\JobRun;
use App\Release;
use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Queue\SerializesModels;

/** Records which release and host ran it, and the greeting its configuration held: a row in job_runs. */
class RecordRelease implements ShouldQueue
{
    use Dispatchable, InteractsWithQueue, Queueable, SerializesModels;

    /** @var string */
    public $tag;

    /** @var string the release that dispatched the job */
    public $dispatchedFrom;

    public function __construct(string $tag)
    {
        $this->tag = $tag;
        $this->dispatchedFrom = Release::name();
    }

    public function handle()
    {
        JobRun::create([
            'tag' => $this->tag,
            'release' => Release::name(),
            'host' => Release::host(),
            'dispatched_from' => $this->dispatchedFrom,
            'greeting' => config('app.greeting'),
            'processed_at' => now(),
        ]);
    }
}
