package zkserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// probeTimeout bounds one four-letter-word exchange.
const probeTimeout = time.Second

// FourLetterWord sends one of ZooKeeper's four-letter words (ruok, srvr,
// stat, mntr, conf) to the server's client port and returns the answer.
func (s *Server) FourLetterWord(ctx context.Context, word string) (string, error) {
	return fourLetterWord(ctx, s.Addr, word)
}

func fourLetterWord(ctx context.Context, addr, word string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("zkserver: %s: %w", word, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, word); err != nil {
		return "", fmt.Errorf("zkserver: %s to %s: %w", word, addr, err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return "", fmt.Errorf("zkserver: %s to %s: %w", word, addr, err)
	}
	return string(b), nil
}
