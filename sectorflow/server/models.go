package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/sectorflow/sdk/sectorflow"
)

// modelObject is OpenAI's Model.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// tenantModels lists the base model and the tenant's fine-tuned models.
func (s *Server) tenantModels(ctx context.Context, tenant string) ([]modelObject, error) {
	models := []modelObject{{ID: s.modelName, Object: "model", Created: s.created, OwnedBy: "sectorflow"}}
	recs, err := s.tenantJobs(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if rec.Job.Status == statusSucceeded && rec.Job.FineTunedModel != nil {
			created := rec.Job.CreatedAt
			if rec.Job.FinishedAt != nil {
				created = *rec.Job.FinishedAt
			}
			models = append(models, modelObject{ID: *rec.Job.FineTunedModel, Object: "model", Created: created, OwnedBy: tenant})
		}
	}
	return models, nil
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	models, err := s.tenantModels(r.Context(), principalOf(r.Context()).Tenant)
	if err != nil {
		return internalError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": models})
	return nil
}

// resolveModel returns the adapter a request's model id needs: "" for the base model, or the
// succeeded job of the calling tenant that produced a fine-tuned model. Anything else is a 404.
func (s *Server) resolveModel(ctx context.Context, tenant, model string) (*jobRecord, error) {
	if model == s.modelName {
		return nil, nil
	}
	missing := &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: strPtr("model"), Code: strPtr("model_not_found"),
		Message: "The model `" + model + "` does not exist or you do not have access to it."}
	id, ok := jobIDOfModel(model)
	if !ok {
		return nil, missing
	}
	rec, err := s.loadJob(ctx, tenant, id)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return nil, missing
		}
		return nil, err
	}
	if rec.Job.Status != statusSucceeded || rec.Job.FineTunedModel == nil || *rec.Job.FineTunedModel != model {
		return nil, missing
	}
	return rec, nil
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	model := r.PathValue("model")
	rec, err := s.resolveModel(r.Context(), p.Tenant, model)
	if err != nil {
		return err
	}
	m := modelObject{ID: s.modelName, Object: "model", Created: s.created, OwnedBy: "sectorflow"}
	if rec != nil {
		m = modelObject{ID: model, Object: "model", Created: rec.Job.CreatedAt, OwnedBy: p.Tenant}
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// deleteModel deletes a fine-tuned model: its adapter leaves Storage and the engine, and the
// model id stops resolving. The job record stays, marked with the deletion.
func (s *Server) deleteModel(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	model := r.PathValue("model")
	if model == s.modelName {
		return &apiError{Status: http.StatusForbidden, Type: "invalid_request_error", Param: strPtr("model"), Code: strPtr("model_not_deletable"),
			Message: "The base model cannot be deleted."}
	}
	rec, err := s.resolveModel(r.Context(), p.Tenant, model)
	if err != nil {
		return err
	}
	if err := s.store.Delete(r.Context(), adapterKey(p.Tenant, rec.Job.ID)); err != nil && !errors.Is(err, sectorflow.ErrNotFound) {
		return internalError(err)
	}
	s.adapters.forget(p.Tenant, rec.Job.ID)
	rec.Job.FineTunedModel = nil
	rec.addEvent("info", "message", "Fine-tuned model deleted: "+model, nil)
	if err := s.putJSON(r.Context(), jobKey(p.Tenant, rec.Job.ID), rec, &sectorflow.PutOptions{Permanent: true}); err != nil {
		return internalError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": model, "object": "model", "deleted": true})
	return nil
}

// deleteTenant is DELETE /v1/admin/tenants/{tenant}: it stops the tenant's jobs, unloads its
// adapters and deletes everything it owns in Storage. Only admin keys may call it.
func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	if s.keys == nil || !p.Admin {
		return &apiError{Status: http.StatusForbidden, Type: "invalid_request_error", Code: strPtr("admin_only"),
			Message: "Expected an admin API key for admin calls."}
	}
	tenant := r.PathValue("tenant")
	if err := sectorflow.ValidateTenant(tenant); err != nil {
		return invalid("tenant", "invalid_tenant", "%v", err)
	}
	td, ok := s.store.(sectorflow.TenantDeleter)
	if !ok {
		return &apiError{Status: http.StatusNotImplemented, Type: "server_error", Code: strPtr("unsupported"),
			Message: "The server's storage cannot delete tenants."}
	}
	if err := s.jobs.stopTenant(r.Context(), tenant); err != nil {
		return internalError(err)
	}
	s.adapters.forgetTenant(tenant)
	rep, err := td.DeleteTenant(r.Context(), tenant)
	if err != nil {
		return internalError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "tenant.deleted", "id": tenant, "deleted": true,
		"objects_removed": len(rep.Removed), "bytes_removed": rep.Bytes})
	return nil
}
