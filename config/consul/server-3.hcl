# Seed §1.1, server 3 of 3: a real Consul server config for datacenter dc1.
# The seed's hosts consul-server-1..3 are loopback addresses 127.0.0.2..4 here, so the
# cluster runs on one machine; on real hosts, put their names in retry_join instead.
# scripts/consul-cluster.sh picks free ports at start and writes the effective config to its run dir.
datacenter       = "dc1"
node_name        = "consul-server-3"
server           = true
bootstrap_expect = 3
retry_join       = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]

bind_addr   = "127.0.0.4"
client_addr = "127.0.0.4"
data_dir    = "/var/lib/consul/server-3"

ui_config {
  enabled = true
}

# Production timing (the default multiplier 5 is for slow dev machines): leader loss detected in ~1 s.
performance {
  raft_multiplier = 1
}

# No phoning home to checkpoint.hashicorp.com.
disable_update_check = true
log_level            = "INFO"
