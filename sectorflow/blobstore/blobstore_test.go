package blobstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/sectorflow/sdk/sectorflow"
	"github.com/sectorflow/sdk/sectorflow/blobstore"
	"github.com/sectorflow/sdk/sectorflow/storagetest"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/blob/s3blob"
)

func storeOver(t *testing.T, bucket *blob.Bucket, prefix string, now func() time.Time) sectorflow.Storage {
	t.Helper()
	return sectorflow.NewStore(blobstore.New(bucket, &blobstore.Options{Prefix: prefix}), &sectorflow.StoreOptions{Now: now})
}

func TestMemblobConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, now func() time.Time) sectorflow.Storage {
		b := memblob.OpenBucket(nil)
		t.Cleanup(func() { b.Close() })
		return storeOver(t, b, "", now)
	})
}

func TestFileblobConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, now func() time.Time) sectorflow.Storage {
		b, err := fileblob.OpenBucket(t.TempDir(), &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
		require.NoError(t, err)
		t.Cleanup(func() { b.Close() })
		return storeOver(t, b, "sectorflow/", now)
	})
}

func TestBadPrefixIsReported(t *testing.T) {
	b := memblob.OpenBucket(nil)
	defer b.Close()
	s := storeOver(t, b, "no-slash", nil)
	err := s.Put(context.Background(), sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindDataset, Name: "d"}, strings.NewReader("x"), nil)
	require.ErrorContains(t, err, "expected Options.Prefix to end in '/'")
}

// TestForeignObjectsAreIgnored: objects under the prefix that are not valid keys (written by
// another program) are neither listed nor removed with a tenant.
func TestForeignObjectsAreIgnored(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	for _, k := range []string{"acme/dataset/../x", "acme/notes.txt", "acme/dataset/a/b", "ACME/dataset/x"} {
		require.NoError(t, b.WriteAll(ctx, k, []byte("foreign"), nil))
	}
	s := storeOver(t, b, "", nil)
	for _, err := range s.List(ctx, "acme", "") {
		require.NoError(t, err)
		t.Fatal("listed a foreign object")
	}
	report, err := s.(sectorflow.TenantDeleter).DeleteTenant(ctx, "acme")
	require.NoError(t, err)
	require.Empty(t, report.Removed)
}

// versitygw finds the S3-compatible test server: on PATH, in GOPATH/bin or in .cache/bin at the
// repository root, where .ci/setup installs it.
func versitygw(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	var candidates []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			candidates = append(candidates, filepath.Join(dir, "bin", "versitygw"))
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "..", ".cache", "bin", "versitygw"))
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c
		}
	}
	t.Skipf("skipping the S3 test: versitygw not found on PATH or in %v; install it with .ci/setup (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)", candidates)
	return ""
}

// startS3 starts versitygw with its POSIX backend on a loopback port and returns a bucket on it.
// The server is stopped when the test ends.
func startS3(t *testing.T) *s3.Client {
	t.Helper()
	bin := versitygw(t)
	root := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	const access, secret = "sectorflowtest", "sectorflowtestsecret"
	cmd := exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "--quiet", "posix", "--nometa", root)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start(), "start versitygw")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("versitygw exited before serving: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s within 20s:\n%s", addr, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + addr),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
}

// TestS3Conformance runs the conformance suite on a real S3-compatible server (versitygw),
// plain and encrypted.
func TestS3Conformance(t *testing.T) {
	client := startS3(t)
	ctx := context.Background()
	n := 0
	newBucket := func(t *testing.T) *blob.Bucket {
		n++
		name := fmt.Sprintf("test-%d", n)
		_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		require.NoError(t, err, "create bucket %s", name)
		b, err := s3blob.OpenBucket(ctx, client, name, nil)
		require.NoError(t, err)
		t.Cleanup(func() { b.Close() })
		return b
	}
	t.Run("plain", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T, now func() time.Time) sectorflow.Storage {
			return storeOver(t, newBucket(t), "", now)
		})
	})
	t.Run("encrypted", func(t *testing.T) {
		keys, err := sectorflow.NewDerivedKeys([]byte("0123456789abcdef0123456789abcdef"))
		require.NoError(t, err)
		storagetest.Run(t, func(t *testing.T, now func() time.Time) sectorflow.Storage {
			d := sectorflow.NewEncryptedDriver(blobstore.New(newBucket(t), &blobstore.Options{Prefix: "enc/"}), keys)
			return sectorflow.NewStore(d, &sectorflow.StoreOptions{Now: now})
		})
	})
}

// TestDriverValidatesKeys: the blob driver is safe on its own, without a Store in front.
func TestDriverValidatesKeys(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	d := blobstore.New(b, nil)
	for _, k := range storagetest.HostileKeys() {
		require.ErrorIs(t, d.WriteObject(ctx, k, strings.NewReader("x")), sectorflow.ErrInvalidKey, "%q", k.String())
		_, err := d.OpenObject(ctx, k)
		require.ErrorIs(t, err, sectorflow.ErrInvalidKey, "%q", k.String())
		require.ErrorIs(t, d.RemoveObject(ctx, k), sectorflow.ErrInvalidKey, "%q", k.String())
	}
	for _, args := range [][2]string{{"../x", ""}, {"acme", "../"}, {"acme", "dataset/a/b"}} {
		n := 0
		for _, err := range d.ListObjects(ctx, args[0], args[1]) {
			n++
			require.ErrorIs(t, err, sectorflow.ErrInvalidKey, "list %q %q", args[0], args[1])
		}
		require.Equal(t, 1, n)
	}
	keys, err := b.List(nil).Next(ctx)
	require.Nil(t, keys, "nothing was written: %v", err)
}

// TestEncryptedRanges: ranged reads through the encrypting driver over a bucket return the
// right plaintext bytes, within the first chunk (one ranged request) and beyond it.
func TestEncryptedRanges(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	keys, err := sectorflow.NewDerivedKeys([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	d := sectorflow.NewEncryptedDriver(blobstore.New(b, nil), keys)
	k := sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindModel, Name: "m"}
	content := make([]byte, 200_000)
	for i := range content {
		content[i] = byte(i % 251)
	}
	require.NoError(t, d.WriteObject(ctx, k, bytes.NewReader(content)))
	ro, ok := d.(sectorflow.RangeOpener)
	require.True(t, ok)
	for _, r := range []struct{ off, n int64 }{{0, 20}, {5, 10}, {0, 64 << 10}, {100_000, 10}, {199_990, 100}} {
		rc, err := ro.OpenRange(ctx, k, r.off, r.n)
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, err, "range %+v", r)
		require.NoError(t, rc.Close())
		end := min(r.off+r.n, int64(len(content)))
		require.Equal(t, content[r.off:end], got, "range %+v", r)
	}
	_, err = ro.OpenRange(ctx, sectorflow.Key{Tenant: "acme", Kind: sectorflow.KindModel, Name: "absent"}, 0, 20)
	require.ErrorIs(t, err, sectorflow.ErrNotFound)
}
