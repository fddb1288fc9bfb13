<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <title>{{ config('app.name') }}: {{ $release }}</title>
</head>
<body>
    <h1>{{ $greeting }}</h1>
    <dl>
        <dt>release</dt><dd id="release">{{ $release }}</dd>
        <dt>sha</dt><dd id="sha">{{ $sha }}</dd>
        <dt>version</dt><dd id="version">{{ $version }}</dd>
    </dl>
</body>
</html>
