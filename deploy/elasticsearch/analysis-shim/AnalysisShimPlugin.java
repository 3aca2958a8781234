/*
 * soc-analysis-shim: a test/dev-only Elasticsearch plugin. Do NOT install it on a real cluster.
 *
 * Why it exists: the tests run Elasticsearch from Maven Central's integ-test zip
 * (org.elasticsearch.distribution.integ-test-zip), which has no analysis-common module. The
 * `.security` system index's settings define an `email` analyzer built from analysis-common's
 * `uax_url_email` tokenizer and `pattern_capture` and `unique` filters (`lowercase` is in the
 * server), so without them that index cannot be created ("Unknown filter type [pattern_capture]
 * for [email]"), and with it go native roles and API keys. analysis-common itself is not published
 * on Maven Central for 8.x, so soc/engine/elastic.py compiles this file against the distribution's
 * lib/ and installs the result into that cached distribution's plugins/ folder.
 *
 * A full Elasticsearch distribution (the Docker image, the tar.gz, deploy/compose.yaml) already has
 * analysis-common, and this plugin would clash with it (two components under one name), so it
 * must not get this plugin.
 *
 * What it registers: exactly the three names that `.security` needs, found by trying, one error at
 * a time ("Unknown filter type [pattern_capture] for [email]", then "Custom Analyzer [email] failed
 * to find tokenizer under name [uax_url_email]", then "... failed to find filter under name
 * [unique]"; re-check after an Elasticsearch upgrade). Each is a thin factory over Lucene's own
 * class (lucene-analysis-common, shipped in the distribution's lib/) reading analysis-common's
 * parameter names and defaults. The one exception: `unique` without `only_on_same_position` has no
 * Lucene counterpart, so a few lines below drop every term seen earlier in the stream, as
 * analysis-common's filter does.
 */
package soc.elasticsearch.shim;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.TokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.miscellaneous.RemoveDuplicatesTokenFilter;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.AbstractTokenizerFactory;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

public final class AnalysisShimPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("uax_url_email", (indexSettings, env, name, settings) -> {
            int maxTokenLength = settings.getAsInt("max_token_length", StandardAnalyzer.DEFAULT_MAX_TOKEN_LENGTH);
            return new AbstractTokenizerFactory(indexSettings, settings, name) {
                @Override
                public Tokenizer create() {
                    UAX29URLEmailTokenizer tokenizer = new UAX29URLEmailTokenizer();
                    tokenizer.setMaxTokenLength(maxTokenLength);
                    return tokenizer;
                }
            };
        });
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            // Like analysis-common: no default instance under the bare name (it needs `patterns`).
            "pattern_capture", AnalysisPlugin.requiresAnalysisSettings((indexSettings, env, name, settings) -> {
                List<String> regexes = settings.getAsList("patterns");
                if (regexes.isEmpty()) {
                    throw new IllegalArgumentException("required setting 'patterns' is missing for token filter [" + name + "]");
                }
                Pattern[] patterns = regexes.stream().map(Pattern::compile).toArray(Pattern[]::new);
                boolean preserveOriginal = settings.getAsBoolean("preserve_original", true);
                return new AbstractTokenFilterFactory(name, settings) {
                    @Override
                    public TokenStream create(TokenStream input) {
                        return new PatternCaptureGroupTokenFilter(input, preserveOriginal, patterns);
                    }
                };
            }),
            "unique", (indexSettings, env, name, settings) -> {
                boolean onlyOnSamePosition = settings.getAsBoolean("only_on_same_position", false);
                return new AbstractTokenFilterFactory(name, settings) {
                    @Override
                    public TokenStream create(TokenStream input) {
                        return onlyOnSamePosition ? new RemoveDuplicatesTokenFilter(input) : new Unique(input);
                    }
                };
            }
        );
    }

    /** Drops a token whose term already appeared earlier in the stream. */
    static final class Unique extends TokenFilter {
        private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
        private final CharArraySet seen = new CharArraySet(8, false);

        Unique(TokenStream input) {
            super(input);
        }

        @Override
        public boolean incrementToken() throws IOException {
            while (input.incrementToken()) {
                if (!seen.contains(term.buffer(), 0, term.length())) {
                    seen.add(term.toString());
                    return true;
                }
            }
            return false;
        }

        @Override
        public void reset() throws IOException {
            super.reset();
            seen.clear();
        }
    }
}
