<?php

namespace App\Models;

use Illuminate\Database\Eloquent\Model;

/** A RecordRelease job that a worker processed. */
class JobRun extends Model
{
    public $timestamps = false;

    protected $fillable = ['tag', 'release', 'host', 'dispatched_from', 'greeting', 'processed_at'];

    protected $casts = ['processed_at' => 'datetime'];
}
