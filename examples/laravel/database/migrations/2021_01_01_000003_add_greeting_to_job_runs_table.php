<?php

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\Schema;

class AddGreetingToJobRunsTable extends Migration
{
    /**
     * The greeting the worker's configuration held when it ran the job: shows that a worker
     * reads an env pushed since it started.
     *
     * @return void
     */
    public function up()
    {
        Schema::table('job_runs', function (Blueprint $table) {
            $table->string('greeting')->nullable();
        });
    }

    /**
     * Reverse the migrations.
     *
     * @return void
     */
    public function down()
    {
        Schema::table('job_runs', function (Blueprint $table) {
            $table->dropColumn('greeting');
        });
    }
}
