/*
 * mlxbench's layer over ASV's pages (added by mlxbench/report/site.py when ASV publishes).
 *
 * The timeline tags every MLX and PyTorch release (about 90 tags), chips have
 * several series and variants, and most GPU benchmarks never ran on most
 * machines; ASV 0.6 draws all of that as it comes. This file:
 *  - labels only the tags with a point on the shown graph, drops the labels
 *    that would overlap a neighbour and lists them in the kept label's
 *    tooltip (the full list on hover);
 *  - draws the legend beside the graph instead of over its data, each entry
 *    without the machine's details ASV repeats (chip, cores, os, ...);
 *  - leaves out of the grid the benchmarks no machine has a number for;
 *  - names commits by their release tag (v0.31.1, torch-v2.9.0) instead of
 *    a hash, in the regressions and summary lists and the graph's tooltips.
 * ASV's own scripts call into $.asv.mlxbench where site.py patched them.
 */
'use strict';

(function ($) {
    var site = window.MLXBENCH_SITE || {measured: null};
    var tag_of_revision = null;

    function tags_by_revision() {
        if (tag_of_revision === null) {
            tag_of_revision = {};
            $.each($.asv.main_json.tags, function (tag, revision) {
                tag_of_revision[revision] = tag;
            });
        }
        return tag_of_revision;
    }

    var mlxbench = {
        /* A commit's release tag, or the hash where the commit has none. */
        commit_name: function (hash) {
            if (!hash) {
                return hash;
            }
            var revision = $.asv.get_revision(hash);
            var tag = revision === null ? undefined : tags_by_revision()[revision];
            return tag || hash;
        },

        commit_range: function (first, last) {
            return mlxbench.commit_name(first) + '..' + mlxbench.commit_name(last);
        },

        /* Whether some machine recorded a number for the benchmark (the grid shows no empty boxes). */
        measured: function (name) {
            return site.measured === null || site.measured.indexOf(name) !== -1;
        },

        /* {tag: revision} of the tags whose commit has a point on one of the graphs (x = revision). */
        shown_tags: function (graphs) {
            var have = {};
            $.each(graphs, function (i, graph) {
                $.each(graph.data, function (j, point) {
                    if (point[1] !== null && point[1] !== undefined) {
                        have[point[0]] = true;
                    }
                });
            });
            var out = {};
            $.each($.asv.main_json.tags, function (tag, revision) {
                if (have[revision]) {
                    out[tag] = revision;
                }
            });
            return out;
        },

        /*
         * The tag labels above the graph: one per tag in view, unless it would
         * overlap the label kept before it (or the newest, always kept); a kept
         * label lists the dropped ones after it in its tooltip.
         */
        tag_labels: function (graph_div, plot, tags, x_of_revision) {
            var axis = plot.getAxes().xaxis;
            var width = graph_div.width();
            var items = [];
            $.each(tags, function (tag, revision) {
                var x = x_of_revision(revision);
                if (x >= axis.min && x <= axis.max) {
                    var label = $('<div class="mlxbench-tag"/>').text(tag);
                    graph_div.append(label);
                    var left = plot.pointOffset({x: x, y: 0}).left;
                    var w = label.outerWidth();
                    if (left + w > width) {
                        left = Math.max(0, left - w);  /* the rightmost ends at its line instead of past the graph */
                    }
                    label.css('left', left + 'px');
                    items.push({tag: tag, revision: revision, left: left, right: left + w, label: label, also: []});
                }
            });
            items.sort(function (a, b) { return a.revision - b.revision; });
            if (!items.length) {
                return;
            }
            var gap = 4;
            var newest = items[items.length - 1];
            var kept = [];
            $.each(items, function (i, item) {
                var previous = kept.length ? kept[kept.length - 1] : null;
                var clash = (previous && item.left < previous.right + gap) ||
                    (item !== newest && item.right + gap > newest.left);
                if (clash && item !== newest) {
                    item.label.remove();
                    (previous || newest).also.push(item.tag);
                } else {
                    kept.push(item);
                }
            });
            $.each(kept, function (i, item) {
                if (item.also.length) {
                    item.label.addClass('mlxbench-tag-more')
                        .attr('title', item.tag + ', then ' + item.also.join(', '));
                } else {
                    item.label.attr('title', item.tag);
                }
            });
        }
    };

    /* The machine's fields ASV repeats in every legend entry; its name stays. */
    function machine_keys() {
        var keys = {};
        $.each($.asv.main_json.machines || {}, function (name, info) {
            $.each(info, function (key) {
                if (key !== 'machine') {
                    keys[key] = true;
                }
            });
        });
        return keys;
    }

    function short_label(label) {
        var drop = machine_keys();
        var parts = $.grep(String(label).split('; '), function (part) {
            var dash = part.indexOf('-');
            return !drop[dash < 0 ? part : part.slice(0, dash)];
        });
        return parts.length ? parts.join('; ') : label;
    }

    /* flot plugin: the main graph's legend goes into a column beside the graph. */
    $.plot.plugins.push({
        name: 'mlxbench-legend',
        version: '1.0',
        options: {},
        init: function (plot) {
            plot.hooks.processOptions.push(function (plot, options) {
                if (plot.getPlaceholder().attr('id') !== 'main-graph') {
                    return;
                }
                var graph = $('#graph');
                var main = plot.getPlaceholder().parent().addClass('mlxbench-main');
                $('#overview').parent().addClass('mlxbench-overview');
                var legend = $('#mlxbench-legend');
                if (!legend.length) {
                    legend = $('<div id="mlxbench-legend"/>');
                    main.after(legend);
                }
                graph.toggleClass('mlxbench-with-legend', !!options.legend.show);
                if (options.legend.show) {
                    var format = options.legend.labelFormatter;
                    options.legend.container = legend;
                    options.legend.labelFormatter = function (label, series) {
                        return format ? format(short_label(label), series) : $('<span>').text(short_label(label)).html();
                    };
                } else {
                    legend.empty();
                }
            });
        }
    });

    $(document).ready(function () {
        $.asv.mlxbench = mlxbench;  /* after asv.js's own ready handler made $.asv */
    });
})(jQuery);
