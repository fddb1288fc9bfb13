# The bench lab's servers: BENCH_SERVERS="127.0.0.160:22,127.0.0.161:22,...", logged in to as the
# app's own user (the usual Capistrano set-up: the deploy user owns the app's folder).
ENV.fetch("BENCH_SERVERS").split(",").each do |hostport|
  host, port = hostport.split(":")
  server host, port: Integer(port || 22), user: ENV.fetch("BENCH_USER"), roles: %w[app]
end
