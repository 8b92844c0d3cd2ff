package config

// Metrics configures the Prometheus endpoint of the agent.
type Metrics struct {
	// Listen is the host:port serving /metrics, e.g. 127.0.0.1:9464;
	// empty disables the endpoint.
	Listen string `yaml:"listen"`
}
