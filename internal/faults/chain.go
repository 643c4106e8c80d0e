package faults

import (
	"sort"
	"time"
)

// CriticalPath is the longest chain of logged requests in which each one
// started only after the one before it had ended: the requests that, as
// measured, waited on one another. Its length is the number of sequential
// round trips; requests that overlapped count once. Ties go to the chain
// with the most modelled waiting.
func CriticalPath(log []Logged) []Logged {
	reqs := append([]Logged(nil), log...)
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].End.Before(reqs[j].End) })
	n := len(reqs)
	length := make([]int, n)
	spent := make([]time.Duration, n)
	prev := make([]int, n)
	best := -1
	for i := range reqs {
		length[i], spent[i], prev[i] = 1, reqs[i].End.Sub(reqs[i].Start), -1
		for j := 0; j < i; j++ {
			if reqs[j].End.After(reqs[i].Start) {
				continue
			}
			l, s := length[j]+1, spent[j]+reqs[i].End.Sub(reqs[i].Start)
			if l > length[i] || l == length[i] && s > spent[i] {
				length[i], spent[i], prev[i] = l, s, j
			}
		}
		if best < 0 || length[i] > length[best] || length[i] == length[best] && spent[i] > spent[best] {
			best = i
		}
	}
	var chain []Logged
	for i := best; i >= 0; i = prev[i] {
		chain = append(chain, reqs[i])
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain
}

// Floor is what a chain costs at the modelled latencies alone: the sum of
// each request's service latency, the time no client can save.
func Floor(chain []Logged, latency map[string]time.Duration) time.Duration {
	var d time.Duration
	for _, q := range chain {
		d += latency[q.Service]
	}
	return d
}
