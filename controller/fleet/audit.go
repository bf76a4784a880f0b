package fleet

import (
	"context"
	"fmt"

	"github.com/wgfleet/wgfleet/controller/store"
)

// ListAudit returns the audit entries f selects, newest first. Entries
// never hold secrets: the service writes none, and the store refuses
// details with secret-looking keys.
func (s *Service) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	entries, err := s.store.ListAudit(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("reading the audit log: %w", err)
	}
	return entries, nil
}
