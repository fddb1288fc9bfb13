<?php

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\Schema;

class CreateJobRunsTable extends Migration
{
    /**
     * Run the migrations: one row per RecordRelease job a worker processed.
     *
     * @return void
     */
    public function up()
    {
        Schema::create('job_runs', function (Blueprint $table) {
            $table->id();
            $table->string('tag', 64)->index();
            $table->string('release');
            $table->string('host');
            $table->string('dispatched_from')->nullable();
            $table->timestamp('processed_at')->useCurrent();
        });
    }

    /**
     * Reverse the migrations.
     *
     * @return void
     */
    public function down()
    {
        Schema::dropIfExists('job_runs');
    }
}
