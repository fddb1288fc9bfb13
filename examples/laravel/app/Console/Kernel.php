<?php

namespace App\Console;

use App\Release;
use Illuminate\Console\Scheduling\Schedule;
use Illuminate\Foundation\Console\Kernel as ConsoleKernel;

class Kernel extends ConsoleKernel
{
    /**
     * Define the application's command schedule.
     *
     * @param  \Illuminate\Console\Scheduling\Schedule  $schedule
     * @return void
     */
    protected function schedule(Schedule $schedule)
    {
        // Every minute, one line in storage/logs/schedule.log: proof that cron runs
        // `schedule:run`, from which release, on which host, as which user.
        $schedule->call(function () {
            $line = sprintf(
                "[%s] schedule:run release=%s host=%s user=%s\n",
                now()->toIso8601String(), Release::name(), Release::host(), Release::user()
            );
            file_put_contents(storage_path('logs/schedule.log'), $line, FILE_APPEND | LOCK_EX);
        })->name('schedule-log')->everyMinute();
    }

    /**
     * Register the commands for the application.
     *
     * @return void
     */
    protected function commands()
    {
        require base_path('routes/console.php');
    }
}
