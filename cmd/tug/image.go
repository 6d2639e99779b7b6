package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"tug/internal/agent/containerd"
	"tug/internal/agent/cri"
	"tug/internal/agent/images"
	"tug/internal/agent/node"
)

func newImageCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage the images of a node on this machine",
		Long: `Manage the images of a running node whose data dir is on this machine (for
tug up: DATA/agent). Images come from archives: OCI layouts or docker-archive
tarballs, as written by docker save, podman save or skopeo.`,
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "/var/lib/tug/agent", "the node's data dir (for tug up: its --data-dir followed by /agent)")
	socket := func() string { return containerd.Config{Dir: node.ContainerdDir(dataDir)}.Socket() }

	importCmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import image archives into the node (kept in its images dir for later restarts)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(socket()); err != nil {
				return fmt.Errorf("no node runs with data dir %s (%v)", dataDir, err)
			}
			for _, f := range args {
				dst, err := images.CopyInto(node.ImagesDir(dataDir), f)
				if err != nil {
					return err
				}
				if err := (images.Importer{Socket: socket()}).Import(cmd.Context(), dst); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "imported %s\n", filepath.Base(f))
			}
			return nil
		},
	}
	lsCmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the node's images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cri.Dial(socket())
			if err != nil {
				return err
			}
			defer c.Close()
			imgs, err := c.ListImages(cmd.Context())
			if err != nil {
				return fmt.Errorf("list images of the node with data dir %s: %w", dataDir, err)
			}
			type row struct{ repo, tag, id, size string }
			var rows []row
			for _, im := range imgs {
				id := strings.TrimPrefix(im.Id, "sha256:")
				if len(id) > 13 {
					id = id[:13]
				}
				size := resource.NewQuantity(int64(im.Size_), resource.BinarySI).String()
				tags := im.RepoTags
				if len(tags) == 0 {
					tags = []string{"<none>:<none>"}
				}
				for _, t := range tags {
					i := strings.LastIndex(t, ":")
					rows = append(rows, row{t[:i], t[i+1:], id, size})
				}
			}
			sort.Slice(rows, func(i, j int) bool {
				if rows[i].repo != rows[j].repo {
					return rows[i].repo < rows[j].repo
				}
				return rows[i].tag < rows[j].tag
			})
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "IMAGE\tTAG\tIMAGE ID\tSIZE")
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.repo, r.tag, r.id, r.size)
			}
			return w.Flush()
		},
	}
	cmd.AddCommand(importCmd, lsCmd)
	return cmd
}
