package agentapi

import (
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// ErrRefused: the master answered a batch of calls with a 4xx. It will
// never take that batch as it is.
var ErrRefused = errors.New("agentapi: the master refused a batch of calls")

// PostCalls sends calls as one batch to POST PathCall on master
// (host:port), waiting at most timeout. An answer other than 202 is an
// error, wrapping ErrRefused for a 4xx.
func PostCalls(client *fasthttp.Client, master string, calls []Call, timeout time.Duration) error {
	body := AppendBatch(nil, &Batch{Calls: calls})
	if len(body) == 0 {
		return errors.New("agentapi: a call cannot be encoded")
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + master + PathCall)
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	if err := client.DoTimeout(req, resp, timeout); err != nil {
		return err
	}
	if code := resp.StatusCode(); code != 202 {
		if code >= 400 && code < 500 {
			return fmt.Errorf("%w: %d %.200s", ErrRefused, code, resp.Body())
		}
		return fmt.Errorf("agentapi: master answered %d: %.200s", code, resp.Body())
	}
	return nil
}
