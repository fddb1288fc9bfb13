<?php

use App\Http\Controllers\JobController;
use App\Http\Controllers\PageController;
use Illuminate\Support\Facades\Route;

/*
|--------------------------------------------------------------------------
| Web Routes
|--------------------------------------------------------------------------
|
| Controllers only (no closures), so that `route:cache` can cache them.
|
*/

Route::get('/', [PageController::class, 'index']);
Route::get('/view', [PageController::class, 'view']);
Route::get('/dispatch', [JobController::class, 'dispatchJob']);
Route::get('/jobs', [JobController::class, 'index']);
Route::get('/health', [PageController::class, 'health'])->withoutMiddleware('web');
