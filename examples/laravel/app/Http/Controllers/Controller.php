<?php

namespace App\Http\Controllers;

use Illuminate\Foundation\Bus\DispatchesJobs;
use Illuminate\Routing\Controller as BaseController;

class Controller extends BaseController
{
    use DispatchesJobs;

    /** A text/plain response, one `key: value` per line. */
    protected function lines(array $fields, int $status = 200)
    {
        $body = '';
        foreach ($fields as $key => $value) {
            $body .= "$key: $value\n";
        }

        return response($body, $status)->header('Content-Type', 'text/plain; charset=UTF-8');
    }
}
