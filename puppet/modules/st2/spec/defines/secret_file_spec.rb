# frozen_string_literal: true

require_relative '../spec_helper'

describe 'st2::secret_file' do
  let(:title) { '/etc/st2/secrets/thing' }

  context 'not given' do
    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_file('/etc/st2/secrets').with(ensure: 'directory', owner: 'root', group: 'root', mode: '0700') }
    it 'is made on the host and kept' do
      is_expected.to contain_file('/etc/st2/secrets/thing').with(
        ensure: 'file', owner: 'root', group: 'root', mode: '0600', show_diff: false,
        content: sensitive('host-secret:/etc/st2/secrets/thing'),
      )
    end
  end

  context 'given' do
    let(:params) { { value: sensitive('given-secret-1') } }

    it { is_expected.to contain_file('/etc/st2/secrets/thing').with_content(sensitive('given-secret-1')) }
  end
end
