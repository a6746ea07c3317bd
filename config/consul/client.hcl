# A client agent for dc1 that joins the three servers of server-{1,2,3}.hcl. Roles talk to
# this local agent (CONSUL_HTTP_ADDR=127.0.0.5:8500); it forwards to the servers.
datacenter = "dc1"
node_name  = "consul-client-1"
server     = false
retry_join = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]

bind_addr   = "127.0.0.5"
client_addr = "127.0.0.5"
data_dir    = "/var/lib/consul/client-1"

disable_update_check = true
log_level            = "INFO"
