package target

// RequestCount is how many requests a client sent with one method that
// ended with one status; status 0 means no response (a timeout, a
// refused connection, a cancelled request).
type RequestCount struct {
	Method string `json:"method"`
	Status int    `json:"status"`
	Count  int64  `json:"count"`
}

// RequestStats are a client's request counters since it was created or
// last reset, for metrics.
type RequestStats struct {
	// Requests count the requests sent, retries included, by method and
	// status, sorted by method and then status.
	Requests []RequestCount `json:"requests"`
	// RateLimited counts the 429 answers.
	RateLimited int64 `json:"rateLimited"`
	// Rate is the rate, in requests per second, the client paces itself
	// to now; 0 when it does not pace.
	Rate float64 `json:"rate"`
	// RateAllowed is the rate, in requests per second, the service says
	// it allows; 0 when it has not said.
	RateAllowed float64 `json:"rateAllowed"`
}

// StatsReporter is implemented by targets that count their requests. A
// Runner reports them as metrics.
type StatsReporter interface {
	RequestStats() RequestStats
}
