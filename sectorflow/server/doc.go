// Package server is SectorFlow's OpenAI-compatible HTTP API: chat and text completions
// (streaming included) on a base model and on the LoRA adapters fine-tuned from it, files, and
// fine-tuning jobs that run in the background, checkpoint to Storage and resume after a restart.
//
// It is built only from the public packages sectorflow and tokenize, so a hosted platform can
// run the same server over its own Storage, Meter and Redactor. API keys map to tenants
// (Keys); every object a tenant creates lives under its tenant in Storage, and another tenant's
// files, jobs and models answer 404. The command `sectorflow serve` runs it.
//
// Endpoints: GET /v1/models, GET|DELETE /v1/models/{model}, POST /v1/chat/completions,
// POST /v1/completions, POST|GET /v1/files, GET|DELETE /v1/files/{id},
// GET /v1/files/{id}/content, POST|GET /v1/fine_tuning/jobs, GET /v1/fine_tuning/jobs/{id},
// GET .../events, GET .../checkpoints, POST .../cancel, and two extensions:
// GET /v1/fine_tuning/jobs/{id}/adapter (the adapter in PEFT format, as a tar archive) and
// DELETE /v1/admin/tenants/{tenant} (admin keys only: deletes everything a tenant owns).
package server
