<?php

namespace App\Http\Controllers;

use App\Jobs\RecordRelease;
use App\Models\JobRun;
use Illuminate\Http\Request;

class JobController extends Controller
{
    /** GET /dispatch?tag=X: queues a RecordRelease job, which a worker runs later. */
    public function dispatchJob(Request $request)
    {
        $tag = (string) $request->query('tag', 'job');
        if (!preg_match('/^[A-Za-z0-9._-]{1,64}$/', $tag)) {
            return $this->lines(['error' => 'tag: 1 to 64 of A-Z a-z 0-9 . _ -'], 422);
        }
        RecordRelease::dispatch($tag);

        return $this->lines(['dispatched' => $tag]);
    }

    /** GET /jobs: the jobs workers have processed, oldest first, one a line. */
    public function index()
    {
        $body = '';
        foreach (JobRun::query()->orderBy('id')->get() as $run) {
            $body .= sprintf(
                "tag=%s release=%s host=%s processed_at=%s dispatched_from=%s greeting=%s\n",
                $run->tag, $run->release, $run->host, $run->processed_at->toIso8601String(), $run->dispatched_from, rawurlencode((string) $run->greeting)
            );
        }

        return response($body, 200)->header('Content-Type', 'text/plain; charset=UTF-8');
    }
}
